// Copying and pasting as people expect on each system, for the terminal and the lesson text.
// navigator.clipboard needs a secure context (https, or localhost); a classroom served over
// plain http on its network has none, so copying falls back to a hidden textarea and pasting
// to the browser's own paste event (Ctrl+Shift+V, Cmd+V, the browser's menu).

export const isMac = /Mac|iPhone|iPad/.test(navigator.userAgentData?.platform || navigator.platform || "");
const MANY_LINES = 5;

export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_) {
      // A denied permission: try the old way below.
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  let done = false;
  try {
    done = document.execCommand("copy");
  } catch (_) {
    done = false;
  }
  area.remove();
  return done;
}

// A paste of more than a few lines runs each line as a command: ask first.
export function pasteAllowed(text) {
  const lines = text.replace(/\r?\n$/, "").split(/\r?\n/).length;
  if (lines <= MANY_LINES) return true;
  return window.confirm(`${lines}줄을 붙여 넣으려고 해요. 줄마다 명령으로 실행될 수 있어요. 붙여 넣을까요?`);
}

// The terminal: selecting copies; Ctrl+Shift+C / Ctrl+Shift+V (Cmd+C / Cmd+V on a Mac) copy and
// paste; right-click pastes (or copies a selection); long pastes are confirmed; the shell gets
// bracketed paste when it asks for it (xterm.js's paste does that).
export function attachToTerminal(term, screen, say) {
  const copySelection = async () => {
    if (!term.hasSelection()) return;
    const ok = await copyText(term.getSelection());
    say(ok ? "선택한 글을 복사했어요." : "복사하지 못했어요. 브라우저 메뉴로 복사해 주세요.", !ok);
  };
  const paste = (text) => {
    if (!text) return;
    if (pasteAllowed(text)) term.paste(text);
    else say("붙여 넣기를 취소했어요.");
  };
  term.onSelectionChange(() => {
    if (term.hasSelection()) copySelection();
  });
  term.attachCustomKeyEventHandler((event) => {
    if (event.type !== "keydown") return true;
    const key = event.key.toLowerCase();
    const copyKeys = isMac ? event.metaKey && key === "c" : event.ctrlKey && event.shiftKey && key === "c";
    const pasteKeys = isMac ? event.metaKey && key === "v" : event.ctrlKey && event.shiftKey && key === "v";
    if (copyKeys) {
      event.preventDefault(); // Ctrl+Shift+C would open the browser's developer tools
      copySelection();
      return false;
    }
    // Paste keys: the browser fires its own paste event on the terminal (below); xterm.js must
    // not also send the keystroke.
    return !pasteKeys;
  });
  // Every paste (keys, the browser's menu) goes through one check; capture, before xterm.js.
  screen.addEventListener(
    "paste",
    (event) => {
      event.preventDefault();
      event.stopImmediatePropagation();
      paste(event.clipboardData?.getData("text/plain") || "");
    },
    true,
  );
  screen.addEventListener("contextmenu", async (event) => {
    event.preventDefault();
    if (term.hasSelection()) return copySelection();
    if (!(navigator.clipboard && window.isSecureContext)) {
      say(`이 연결에서는 오른쪽 클릭으로 붙여 넣을 수 없어요. ${isMac ? "Cmd+V" : "Ctrl+Shift+V"}를 써 주세요.`, true);
      return;
    }
    try {
      paste(await navigator.clipboard.readText());
    } catch (_) {
      say(`클립보드를 읽지 못했어요. ${isMac ? "Cmd+V" : "Ctrl+Shift+V"}를 써 주세요.`, true);
    }
  });
}

// The lesson text: a 복사 button on every command block and code sample.
function addCopyButtons() {
  for (const pre of document.querySelectorAll("article.lesson .highlight pre, article.lesson .runnable pre")) {
    const holder = pre.closest(".highlight, .runnable");
    if (holder.querySelector(":scope > .copy-button")) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button";
    button.textContent = "복사";
    const code = pre.querySelector("code") || pre;
    const firstLine = code.textContent.trim().split("\n")[0].slice(0, 60);
    button.setAttribute("aria-label", `복사: ${firstLine}`);
    const note = document.createElement("span");
    note.className = "copy-note";
    note.setAttribute("role", "status");
    button.addEventListener("click", async () => {
      const ok = await copyText(code.textContent.replace(/\n$/, ""));
      note.textContent = ok ? "복사했어요" : "복사하지 못했어요";
      setTimeout(() => (note.textContent = ""), 2500);
    });
    holder.classList.add("copyable");
    holder.append(button, note);
  }
}

addCopyButtons();
