"""DynamoDB in the local cloud: moto's DynamoDB, with a function's execution role enforced on
its calls (:mod:`.enforcement`) and AWS's error for a denied call (:mod:`.exceptions`)."""
