// The lesson terminal: xterm.js (from npm, served from node_modules) on the student's
// playground socket. Also drives the ▶ buttons of runnable commands and the time-left display.
import { Terminal } from "../vendor/xterm/xterm.mjs";
import { FitAddon } from "../vendor/xterm-fit/addon-fit.mjs";
import { attachToTerminal } from "./clipboard.js";

const panel = document.querySelector("[data-terminal]");
if (panel) setUp(panel);

function setUp(panel) {
  const readOnly = panel.hasAttribute("data-terminal-read-only");
  const screen = panel.querySelector("[data-terminal-screen]");
  const status = panel.querySelector("[data-terminal-status]");
  const timeLeft = panel.querySelector("[data-terminal-time]");
  const openButton = panel.querySelector("[data-terminal-open]");
  let term = null;
  let fit = null;
  let socket = null;
  let ready = false;
  let pending = [];
  let countdown = null;
  let warned = false;

  function say(text, warn = false) {
    status.textContent = text;
    status.classList.toggle("terminal-status--warn", warn);
  }

  function send(message) {
    if (socket && ready) socket.send(JSON.stringify(message));
    else pending.push(message);
  }

  let sentSize = "";
  function sendSize() {
    if (!term || readOnly) return;
    // A screen collapsed for a moment by the page's layout (seen: 1 row × 2 columns while a
    // section below re-rendered) is no size to give the shell: busybox ash redraws its prompt
    // for every width it is told, moving up over the lines above, and the student's last
    // output vanished. Only a real change is sent, and never a collapsed one.
    const proposed = fit.proposeDimensions();
    if (!proposed || proposed.cols < 20 || proposed.rows < 4) return;
    fit.fit();
    const size = `${term.rows}x${term.cols}`;
    if (size === sentSize) return;
    sentSize = size;
    send({ type: "resize", rows: term.rows, cols: term.cols });
  }

  function startCountdown(expiresAt) {
    clearInterval(countdown);
    warned = false;
    const tick = () => {
      const left = Math.max(0, Math.round(expiresAt - Date.now() / 1000));
      const minutes = Math.floor(left / 60);
      const seconds = String(left % 60).padStart(2, "0");
      timeLeft.textContent = `남은 시간 ${minutes}:${seconds}`;
      if (left <= 60 && !warned) {
        warned = true;
        timeLeft.classList.add("terminal-time--warn");
        say("1분 뒤에 터미널이 끝나요. 필요한 내용은 따로 적어 두세요.", true);
      }
    };
    tick();
    countdown = setInterval(tick, 1000);
  }

  function open() {
    panel.classList.add("terminal-panel--open");
    if (!term) {
      term = new Terminal({
        convertEol: false,
        cursorBlink: !readOnly,
        disableStdin: readOnly,
        fontFamily: 'ui-monospace, "D2Coding", Menlo, Consolas, monospace',
        fontSize: 14,
        screenReaderMode: true,
        theme: { background: "#0f1720", foreground: "#e4e7eb" },
      });
      fit = new FitAddon();
      term.loadAddon(fit);
      term.open(screen);
      if (!readOnly) term.onData((data) => send({ type: "input", data }));
      attachToTerminal(term, screen, say);
      new ResizeObserver(() => sendSize()).observe(screen);
      // The toolbar (terminal_comfort.js) sets the font, theme and screen-reader mode.
      panel.dispatchEvent(new CustomEvent("terminalCreated", { detail: { term, send, sendSize } }));
    }
    if (socket && socket.readyState <= WebSocket.OPEN) return;
    say("터미널 컨테이너를 준비하고 있어요…");
    if (openButton) openButton.disabled = true;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${panel.dataset.terminalUrl}`);
    ready = false;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      panel.dispatchEvent(new CustomEvent("terminalMessage", { detail: message }));
      if (message.type === "hello") {
        ready = true;
        term.reset();
        term.write(message.scrollback);
        startCountdown(message.expires_at);
        say(readOnly ? "학생의 터미널을 보고 있어요 (입력할 수 없어요)." : "터미널이 열렸어요.");
        if (openButton) openButton.hidden = true;
        sentSize = ""; // a new (or reattached) playground: tell it the size once more
        sendSize();
        for (const queued of pending.splice(0)) socket.send(JSON.stringify(queued));
        if (!readOnly) term.focus();
        panel.dispatchEvent(new CustomEvent("terminalOpened", { bubbles: true }));
      } else if (message.type === "extended") {
        startCountdown(message.expires_at);
        timeLeft.classList.remove("terminal-time--warn");
      } else if (message.type === "output") {
        term.write(message.data);
      } else if (message.type === "error") {
        say(message.message, true);
      } else if (message.type === "ended") {
        ended(message.reason);
      }
    };
    socket.onclose = (event) => {
      ready = false;
      if (event.code === 1000 || event.code === 4403) return;
      say("연결이 끊겼어요. 다시 연결하는 중이에요…", true);
      setTimeout(open, 2000);
    };
  }

  function ended(reason) {
    clearInterval(countdown);
    timeLeft.textContent = "";
    say(`터미널이 끝났어요: ${reason}`, true);
    if (openButton) {
      openButton.textContent = "새 터미널 열기";
      openButton.disabled = false;
      openButton.hidden = false;
    }
  }

  if (openButton) openButton.addEventListener("click", open);
  if (readOnly) open();

  // ▶ on a runnable command: type it into the terminal (opening it first) and run it.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-terminal-run]");
    if (!button || readOnly) return;
    open();
    send({ type: "input", data: `${button.dataset.terminalRun}\r` });
    panel.scrollIntoView({ block: "nearest" });
  });
}
