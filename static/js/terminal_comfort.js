// The terminal's toolbar (templates/sandbox/terminal_tools.html): 연장 before the end, font size,
// high contrast, xterm.js's screen-reader mode, and Esc then Tab to leave the terminal (xterm.js
// keeps Tab for the shell). Preferences are saved on the server, per student. terminal.js hands
// over its terminal ("terminalCreated") and every socket message ("terminalMessage").

const WARN_SECONDS = 5 * 60;
const LEAVE_WINDOW_MS = 1500;
const THEMES = {
  normal: { background: "#0f1720", foreground: "#e4e7eb" },
  contrast: {
    background: "#000000",
    foreground: "#ffffff",
    cursor: "#ffff00",
    cursorAccent: "#000000",
    selectionBackground: "#ffff00",
    selectionForeground: "#000000",
    blue: "#7fb2ff",
    brightBlue: "#a8cbff",
    red: "#ff7b7b",
    green: "#7dff7d",
  },
};

const tools = document.querySelector("[data-terminal-tools]");
const panel = tools && tools.closest("[data-terminal]");
if (panel) setUp(panel, tools);

function setUp(panel, tools) {
  const screen = panel.querySelector("[data-terminal-screen]");
  const extendBox = tools.querySelector("[data-terminal-extend]");
  const extendButton = tools.querySelector("[data-terminal-extend-button]");
  const extendLeft = tools.querySelector("[data-terminal-extend-left]");
  const warning = tools.querySelector("[data-terminal-extend-warning]");
  const announce = tools.querySelector("[data-terminal-announce]");
  const sizeLabel = tools.querySelector("[data-font-size-label]");
  const smaller = tools.querySelector("[data-font-smaller]");
  const larger = tools.querySelector("[data-font-larger]");
  const contrast = tools.querySelector("[data-high-contrast-toggle]");
  const reader = tools.querySelector("[data-screen-reader-toggle]");
  const sizes = tools.dataset.fontSizes.split(",").map(Number);
  const prefs = {
    font_size: Number(tools.dataset.fontSize),
    high_contrast: tools.hasAttribute("data-high-contrast"),
    screen_reader: tools.hasAttribute("data-screen-reader"),
  };
  let api = null; // { term, send, sendSize } from terminal.js
  let expiresAt = null;
  let warnTimer = null;
  let escapeAt = 0;

  screen.setAttribute("aria-describedby", "terminal-leave-hint");

  function tell(text) {
    // Cleared first, so the same sentence twice is announced twice.
    announce.textContent = "";
    setTimeout(() => (announce.textContent = text), 50);
  }

  function apply() {
    sizeLabel.textContent = `${prefs.font_size}px`;
    // aria-disabled, not disabled: a disabled button would drop the keyboard focus at the end.
    smaller.setAttribute("aria-disabled", String(prefs.font_size <= sizes[0]));
    larger.setAttribute("aria-disabled", String(prefs.font_size >= sizes[sizes.length - 1]));
    contrast.setAttribute("aria-pressed", String(prefs.high_contrast));
    reader.setAttribute("aria-pressed", String(prefs.screen_reader));
    panel.classList.toggle("terminal-panel--contrast", prefs.high_contrast);
    if (!api) return;
    api.term.options.fontSize = prefs.font_size;
    api.term.options.theme = prefs.high_contrast ? THEMES.contrast : THEMES.normal;
    api.term.options.screenReaderMode = prefs.screen_reader;
    api.sendSize();
  }

  async function save() {
    apply();
    const body = new URLSearchParams({
      font_size: prefs.font_size,
      high_contrast: prefs.high_contrast ? "1" : "0",
      screen_reader: prefs.screen_reader ? "1" : "0",
    });
    const token = document.querySelector("[name=csrfmiddlewaretoken]")?.value || csrfFromBody();
    try {
      const response = await fetch(tools.dataset.preferencesUrl, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": token },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(String(response.status));
      tools.dataset.saved = "1";
    } catch {
      tell("설정을 저장하지 못했어요. 이 화면에서는 바뀐 대로 보여요.");
    }
  }

  function csrfFromBody() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
    } catch {
      return "";
    }
  }

  function step(direction) {
    const index = sizes.indexOf(prefs.font_size);
    const next = sizes[Math.max(0, Math.min(sizes.length - 1, (index < 0 ? 1 : index) + direction))];
    if (next === prefs.font_size) {
      tell(direction > 0 ? "가장 큰 글자예요." : "가장 작은 글자예요.");
      return;
    }
    prefs.font_size = next;
    save();
    tell(`글자 크기 ${next}px`);
  }

  smaller.addEventListener("click", () => step(-1));
  larger.addEventListener("click", () => step(1));
  contrast.addEventListener("click", () => {
    prefs.high_contrast = !prefs.high_contrast;
    save();
    tell(prefs.high_contrast ? "고대비 화면을 켰어요." : "고대비 화면을 껐어요.");
  });
  reader.addEventListener("click", () => {
    prefs.screen_reader = !prefs.screen_reader;
    save();
    tell(prefs.screen_reader ? "화면 읽기 모드를 켰어요." : "화면 읽기 모드를 껐어요.");
  });
  apply();

  // 연장: shown while the terminal is open; the warning ~5 minutes before the end.
  function showLeft(left) {
    if (left === null || left === undefined) return;
    extendLeft.textContent = left > 0 ? `오늘 ${left}번 남음` : "오늘은 모두 썼어요";
  }

  function schedule() {
    clearTimeout(warnTimer);
    warning.hidden = true;
    if (expiresAt === null) return;
    const untilWarning = (expiresAt - WARN_SECONDS) * 1000 - Date.now();
    const warn = () => {
      warning.hidden = false;
      tell("5분 뒤에 터미널이 끝나요 · 연장 버튼으로 더 쓸 수 있어요.");
    };
    if (untilWarning <= 0) {
      if (expiresAt * 1000 > Date.now()) warn();
    } else {
      warnTimer = setTimeout(warn, untilWarning);
    }
  }

  // Not disabled while the server answers: a disabled button would drop the keyboard focus.
  let asking = false;
  extendButton.addEventListener("click", () => {
    if (!api || asking) return;
    asking = true;
    api.send({ type: "extend" });
  });

  panel.addEventListener("terminalCreated", (event) => {
    api = event.detail;
    apply();
  });

  panel.addEventListener("terminalMessage", (event) => {
    const message = event.detail;
    if (message.type === "hello") {
      expiresAt = message.expires_at;
      extendBox.hidden = message.read_only;
      asking = false;
      showLeft(message.extensions_left);
      schedule();
    } else if (message.type === "extended") {
      expiresAt = message.expires_at;
      asking = false;
      showLeft(message.extensions_left);
      schedule();
      tell(
        message.by_class
          ? `선생님이 터미널을 ${message.until}까지 연장했어요`
          : `터미널이 ${message.until}까지 연장됐어요`,
      );
    } else if (message.type === "extend_refused") {
      asking = false;
      tell(message.message);
    } else if (message.type === "ended") {
      expiresAt = null;
      schedule();
      extendBox.hidden = true;
    }
  });

  // Esc then Tab (within 1.5 s) leaves the terminal: Esc still reaches the shell (vi needs it),
  // the Tab does not. A capture listener on the screen runs before xterm.js's own.
  screen.addEventListener(
    "keydown",
    (event) => {
      if (event.key === "Escape") {
        escapeAt = Date.now();
        return;
      }
      if (event.key === "Tab" && Date.now() - escapeAt <= LEAVE_WINDOW_MS) {
        event.preventDefault();
        event.stopPropagation();
        escapeAt = 0;
        leave(event.shiftKey ? -1 : 1);
        return;
      }
      escapeAt = 0;
    },
    true,
  );

  function leave(direction) {
    const focusable = [
      ...document.querySelectorAll(
        'a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex]:not([tabindex="-1"])',
      ),
    ].filter((element) => !screen.contains(element) && element.offsetParent !== null);
    const after = (element) =>
      screen.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING;
    const target =
      direction > 0 ? focusable.find(after) : focusable.filter((e) => !after(e)).pop();
    if (target) target.focus();
    else screen.querySelector("textarea")?.blur();
  }
}
