# Start-up file of the terminals of `workshop lab` (bash --rcfile this -i).
# JupyterLab would otherwise start a login shell, whose /etc/profile resets PATH and loses the
# workshop's environment: `workshop chat …` would then be "command not found".
if [ -f "$HOME/.bashrc" ]; then
  . "$HOME/.bashrc"
fi
# The learner's ~/.bashrc may put another Python first (conda init does): the workshop's wins.
if [ -n "${WORKSHOP_LAB_BIN:-}" ]; then
  export PATH="$WORKSHOP_LAB_BIN:$PATH"
fi
