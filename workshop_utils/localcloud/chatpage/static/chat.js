// The workshop's chat in a browser: plain JavaScript, no build step, no dependencies.
//
// Protocol (lambda_src/): connect to the stage URL with ?name=<name>, send {"action": "join"}
// once open, send {"action": "sendmessage", "message": text}. Frames received: type "message",
// "presence", "welcome" or "error", and API Gateway's own {"message": "Forbidden", ...}.
//
// A chat with the authorizer also wants &token=<token> (the name is then the token's). The page
// takes a token from its #token= fragment (what `workshop chat --browser` writes; a fragment
// never reaches a server) or ?token=, removes it from the address bar at once, keeps it in
// memory only, and puts it in the WebSocket URL and nowhere else: never on the page, never
// in the console.
//
// Everything a peer sent is put in the page with textContent, never as HTML.
"use strict";

(() => {
  const MAX_NAME = 32; // the $connect handler refuses longer names (HTTP 400)
  const MAX_ENTRIES = 500; // oldest entries go first: a long session stays light
  const BACKOFF_BASE_MS = 1000;
  const BACKOFF_CAP_MS = 30000;
  const MAX_ATTEMPTS = 10; // consecutive failed reconnects before giving up
  const STABLE_MS = 10000; // a connection open this long resets the failure count
  // API Gateway closes a connection idle for 10 minutes (1001 "Going away"). A repeated
  // {"action": "join"} is the chat's "I'm here": after the first one it sends nothing to
  // anyone (broadcast/app.py announces a connection once), so it is a harmless keep-alive.
  const KEEPALIVE_DEFAULT_S = 300;

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(window.location.search);
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const linkToken = fragment.get("token") || params.get("token") || "";
  if (fragment.has("token") || params.has("token")) {
    params.delete("token"); // out of the address bar, the history and any copied link
    const rest = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (rest ? `?${rest}` : ""));
  }
  const keepAliveS = Math.min(540, Math.max(1, Number(params.get("keepalive")) || KEEPALIVE_DEFAULT_S));

  const ui = {
    state: $("state"),
    stateText: $("state-text"),
    joinForm: $("join-form"),
    urlInput: $("url-input"),
    nameInput: $("name-input"),
    tokenInput: $("token-input"),
    joinError: $("join-error"),
    chat: $("chat"),
    messages: $("messages"),
    sendForm: $("send-form"),
    input: $("message-input"),
    leave: $("leave-button"),
    rejoin: $("rejoin-button"),
    who: $("who"),
    counter: $("counter"),
  };
  // The countdown ticks every second; it is kept out of the live region (aria-hidden) so a
  // screen reader announces "reconnecting" once, not every second.
  const countdown = document.createElement("span");
  countdown.setAttribute("aria-hidden", "true");
  const detail = document.createElement("span");
  ui.stateText.after(countdown, detail);

  let config = null; // {url, name, token}
  let ws = null;
  let everOpened = false;
  let leaving = false;
  let failures = 0;
  const timers = { retry: null, tick: null, keepAlive: null, stable: null };

  // --- validation: the same rules as the $connect handler, so a refused name is explained --

  function nameProblem(raw) {
    const name = raw.trim();
    if (!name) return "enter a name";
    if ([...name].length > MAX_NAME) return `the name is longer than ${MAX_NAME} characters`;
    // Python's str.isprintable(): no control, format, unassigned or separator characters
    // except the plain space.
    if (/[\p{C}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u.test(name)) {
      return "the name has characters that are not printable";
    }
    return null;
  }

  function urlProblem(raw) {
    let url;
    try {
      url = new URL(raw.trim());
    } catch {
      return "enter the stage's WebSocket URL (ws://… or wss://…)";
    }
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      return "the URL must start with ws:// or wss://";
    }
    if (url.hash) return "the URL must not have a #fragment";
    return null;
  }

  // --- the connection state line ---

  function setState(kind, text, extra = "") {
    ui.state.dataset.state = kind;
    ui.stateText.textContent = text;
    detail.textContent = extra ? ` (${extra})` : "";
    countdown.textContent = "";
  }

  function clearTimer(name) {
    if (timers[name] !== null) {
      clearTimeout(timers[name]);
      clearInterval(timers[name]);
      timers[name] = null;
    }
  }

  function closeWords(event) {
    return event.reason ? `close ${event.code} ${event.reason}` : `close ${event.code}`;
  }

  // --- the message list ---

  function timeElement(at) {
    const when = new Date(typeof at === "string" ? at : NaN);
    if (Number.isNaN(when.getTime())) return null;
    const time = document.createElement("time");
    time.dateTime = when.toISOString();
    time.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return time;
  }

  function addEntry(kind, build) {
    const nearBottom =
      ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
    const li = document.createElement("li");
    li.className = kind;
    build(li);
    ui.messages.append(li);
    while (ui.messages.childElementCount > MAX_ENTRIES) ui.messages.firstElementChild.remove();
    if (nearBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
    return li;
  }

  function addText(kind, text, at) {
    return addEntry(kind, (li) => {
      li.append(String(text));
      const time = timeElement(at);
      if (time) li.append(time);
    });
  }

  function show(raw) {
    let data;
    try {
      data = JSON.parse(raw);
    } catch {
      data = null;
    }
    if (!data || typeof data !== "object" || Array.isArray(data)) {
      addText("notice", `(raw) ${raw}`);
      return;
    }
    if (data.type === "message") {
      const from = String(data.from ?? "?");
      addEntry(from === config.name ? "message mine" : "message", (li) => {
        const who = document.createElement("span");
        who.className = "from";
        who.textContent = from;
        const text = document.createElement("span");
        text.className = "text";
        text.textContent = String(data.text ?? "");
        li.append(who, ": ", text);
        const time = timeElement(data.at);
        if (time) li.append(time);
      });
    } else if (data.type === "presence") {
      const verb = { join: "joined", leave: "left" }[data.event] ?? String(data.event);
      addText("presence", `${String(data.name ?? "?")} ${verb}`, data.at);
    } else if (data.type === "welcome") {
      // Our own join acknowledged, once per connection, with who else is here.
      // With a token the chat's name for us is the token's: take it from here on.
      if (typeof data.name === "string" && data.name) config.name = data.name;
      const online = Array.isArray(data.online) ? data.online.map(String) : [];
      const here = online.length ? `here: ${online.join(", ")}` : "nobody else is here yet";
      addText("presence", `welcome, ${String(data.name ?? config.name)} (${here})`, data.at);
    } else if (data.type === "error") {
      addText("error", `error: ${String(data.error ?? "")}`);
    } else if ("message" in data && "connectionId" in data) {
      addText("error", `API Gateway: ${String(data.message)}`); // Forbidden / Internal server error
    } else {
      addText("notice", JSON.stringify(data));
    }
  }

  // --- connecting, keep-alive, reconnecting ---

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    for (const name of Object.keys(timers)) clearTimer(name);
    ui.rejoin.hidden = true;
    ui.leave.hidden = false;
    leaving = false;
    const target = new URL(config.url);
    target.searchParams.set("name", config.name);
    if (config.token) target.searchParams.set("token", config.token);
    else target.searchParams.delete("token");
    setState("connecting", failures ? `connecting, attempt ${failures + 1}` : "connecting");
    let sock;
    try {
      sock = new WebSocket(target.href);
    } catch (err) {
      setState("closed", "closed", String(err.message || err));
      addText("error", `cannot open ${config.url}: ${err.message || err}`);
      offerRejoin();
      return;
    }
    ws = sock;
    let opened = false;
    sock.addEventListener("open", () => {
      if (sock !== ws) return;
      opened = everOpened = true;
      setState("connected", `connected as ${config.name}`);
      addText("notice", `connected to ${config.url} as ${config.name}`);
      send({ action: "join" });
      timers.keepAlive = setInterval(() => send({ action: "join" }), keepAliveS * 1000);
      timers.stable = setTimeout(() => { failures = 0; }, STABLE_MS);
      if (document.activeElement === document.body || !document.activeElement) ui.input.focus();
    });
    sock.addEventListener("message", (event) => {
      if (sock === ws) show(typeof event.data === "string" ? event.data : "(binary frame)");
    });
    sock.addEventListener("close", (event) => {
      if (sock === ws) closed(event, opened);
    });
  }

  function closed(event, wasOpen) {
    ws = null;
    clearTimer("keepAlive");
    clearTimer("stable");
    const why = closeWords(event);
    if (leaving) {
      setState("closed", "closed", why);
      addText("notice", "you left the chat");
      offerRejoin();
      return;
    }
    if (!wasOpen && !everOpened) {
      // A browser cannot see why a handshake failed: a refusal (HTTP 400/403) and an
      // unreachable server both look like close 1006. Retrying either would only repeat it.
      setState("closed", "closed", why);
      addText(
        "error",
        `could not connect to ${config.url}: the server refused the connection (an unknown ` +
          "API or stage, a name it does not accept, or a missing or expired token) or cannot " +
          "be reached. Check the URL, the name and the token, then press Join again.",
      );
      offerRejoin();
      return;
    }
    if (wasOpen) addText("notice", `connection closed by the server (${why})`);
    failures += 1;
    if (failures > MAX_ATTEMPTS) {
      setState("closed", "closed", `${why}; gave up after ${MAX_ATTEMPTS} attempts`);
      addText("error", `gave up reconnecting after ${MAX_ATTEMPTS} attempts`);
      offerRejoin();
      return;
    }
    scheduleReconnect(why);
  }

  function backoffMs(attempt) {
    // Exponential, capped, with "equal jitter": half fixed, half random, so a room full of
    // clients dropped at once does not come back at the same instant.
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  function scheduleReconnect(why) {
    const due = Date.now() + backoffMs(failures);
    setState("reconnecting", "reconnecting", why);
    const tick = () => {
      countdown.textContent = ` in ${Math.max(1, Math.ceil((due - Date.now()) / 1000))} s`;
    };
    tick();
    timers.tick = setInterval(tick, 250);
    timers.retry = setTimeout(connect, due - Date.now());
  }

  function offerRejoin() {
    for (const name of Object.keys(timers)) clearTimer(name);
    ui.leave.hidden = true;
    ui.rejoin.hidden = false;
    if (ui.chat.contains(document.activeElement) || document.activeElement === document.body) {
      ui.rejoin.focus();
    }
  }

  // --- the two forms ---

  function begin(url, name, token) {
    config = { url: url.trim(), name: name.trim(), token: token.trim() };
    const query = new URLSearchParams(window.location.search);
    query.set("url", config.url);
    query.set("name", config.name);
    query.delete("token");
    window.history.replaceState(null, "", `${window.location.pathname}?${query}`);
    document.title = `${config.name} — WebSocket chat`;
    ui.joinForm.hidden = true;
    ui.chat.hidden = false;
    ui.who.textContent = `You are ${config.name} on ${config.url}. Enter sends.`;
    everOpened = false;
    failures = 0;
    connect();
    ui.input.focus();
  }

  function showForm(url, name, problem, field) {
    ui.urlInput.value = url;
    ui.nameInput.value = name;
    ui.joinForm.hidden = false;
    ui.chat.hidden = true;
    setState("idle", "not connected");
    ui.joinError.textContent = problem || "";
    ui.urlInput.removeAttribute("aria-invalid");
    ui.nameInput.removeAttribute("aria-invalid");
    if (field) field.setAttribute("aria-invalid", "true");
    (field || (url ? ui.nameInput : ui.urlInput)).focus();
  }

  ui.joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const url = ui.urlInput.value;
    const name = ui.nameInput.value;
    const badUrl = urlProblem(url);
    const badName = badUrl ? null : nameProblem(name);
    if (badUrl || badName) {
      showForm(url, name, badUrl || badName, badUrl ? ui.urlInput : ui.nameInput);
      return;
    }
    begin(url, name, ui.tokenInput.value || linkToken);
    ui.tokenInput.value = ""; // the token lives in memory only from here on
  });

  ui.sendForm.addEventListener("submit", (event) => {
    event.preventDefault(); // Enter in the input submits the form: that is "Enter sends"
    const text = ui.input.value;
    if (!text.trim()) return;
    if (!send({ action: "sendmessage", message: text })) {
      addText("error", "not connected: your message was not sent (it is still in the box)");
      return;
    }
    ui.input.value = "";
    ui.counter.textContent = "";
    ui.input.focus();
  });

  ui.input.addEventListener("input", () => {
    const left = Number(ui.input.maxLength) - ui.input.value.length;
    ui.counter.textContent = left <= 100 ? `${left} characters left` : "";
  });

  ui.leave.addEventListener("click", () => {
    leaving = true;
    if (ws) {
      ws.close(1000, "left");
    } else {
      setState("closed", "closed", "you left");
      offerRejoin();
    }
  });

  ui.rejoin.addEventListener("click", () => {
    everOpened = false;
    failures = 0;
    connect();
    ui.input.focus();
  });

  // Back online: do not wait for the rest of a long backoff.
  window.addEventListener("online", () => {
    if (timers.retry !== null) connect();
  });

  const url = params.get("url") || "";
  const name = params.get("name") || "";
  const badUrl = url ? urlProblem(url) : null;
  const badName = name ? nameProblem(name) : null;
  if (url && name && !badUrl && !badName) {
    begin(url, name, linkToken);
  } else {
    showForm(url, name, badUrl || badName, badUrl ? ui.urlInput : badName ? ui.nameInput : null);
  }
})();
