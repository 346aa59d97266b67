// Files in and out of the terminal's /work: the file field or a drop onto the terminal uploads
// (one request per file, with its progress); download links fetch in the page, so a refusal
// («터미널을 먼저 열어 주세요») is said in the status line instead of replacing the lesson.
const section = document.querySelector("[data-work-files]");
if (section) setUp(section);

// 을 after a final consonant, 를 after a vowel, as the name is read aloud (as the server does:
// sandbox/api/workspace_files.py, _object_particle).
function withParticle(name) {
  const last = name.trimEnd().slice(-1).toLowerCase();
  const code = last.charCodeAt(0);
  const consonant = code >= 0xac00 && code <= 0xd7a3 ? (code - 0xac00) % 28 !== 0 : "0136789lmnr".includes(last);
  return `${name}${consonant ? "을" : "를"}`;
}

function setUp(section) {
  const panel = section.closest("[data-terminal]") || section;
  const form = section.querySelector("[data-work-upload]");
  const input = section.querySelector("[data-work-upload-input]");
  const progress = section.querySelector("[data-work-progress]");
  const status = section.querySelector("[data-work-status]");
  const limit = Number(section.dataset.uploadBytes);
  const token = form.querySelector("[name=csrfmiddlewaretoken]").value;
  let queue = Promise.resolve();

  function say(text, warn = false) {
    status.textContent = text;
    status.classList.toggle("work-status--warn", warn);
  }

  function size(bytes) {
    return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)}KiB` : `${(bytes / 1048576).toFixed(1)}MiB`;
  }

  function uploadOne(file) {
    return new Promise((resolve) => {
      if (file.size > limit) {
        say(`${file.name}: 파일이 너무 커요 (${size(file.size)}). 한 번에 ${size(limit)}까지 올릴 수 있어요.`, true);
        resolve(false);
        return;
      }
      const body = new FormData();
      body.append("file", file, file.name);
      body.append("name", file.name); // checked by the server as it is (no path stripped)
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("X-CSRFToken", token);
      progress.hidden = false;
      progress.value = 0;
      say(`${file.name} 올리는 중… 0%`);
      request.upload.onprogress = (event) => {
        if (!event.lengthComputable) return;
        const percent = Math.round((event.loaded / event.total) * 100);
        progress.value = percent;
        say(percent < 100 ? `${file.name} 올리는 중… ${percent}%` : `${withParticle(file.name)} /work에 넣는 중…`);
      };
      request.onload = () => {
        progress.hidden = true;
        const ok = request.status >= 200 && request.status < 300;
        say(request.responseText || (ok ? "올렸어요." : "올리지 못했어요."), !ok);
        if (ok) document.body.dispatchEvent(new CustomEvent("workFilesChanged"));
        resolve(ok);
      };
      request.onerror = () => {
        progress.hidden = true;
        say("연결이 끊겨서 올리지 못했어요. 다시 해 주세요.", true);
        resolve(false);
      };
      request.send(body);
    });
  }

  function uploadAll(files) {
    for (const file of files) queue = queue.then(() => uploadOne(file));
    return queue;
  }

  input.addEventListener("change", () => {
    const files = Array.from(input.files);
    uploadAll(files).then(() => {
      input.value = "";
    });
  });

  // Dropping files onto the terminal (or anywhere on its panel) uploads them.
  panel.addEventListener("dragover", (event) => {
    if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    panel.classList.add("terminal-panel--drop");
  });
  panel.addEventListener("dragleave", (event) => {
    if (!panel.contains(event.relatedTarget)) panel.classList.remove("terminal-panel--drop");
  });
  panel.addEventListener("drop", (event) => {
    panel.classList.remove("terminal-panel--drop");
    const files = Array.from(event.dataTransfer?.files || []);
    if (!files.length) return;
    event.preventDefault();
    uploadAll(files);
  });

  // Downloads: fetched here, saved under the server's name; a refusal is said in the status.
  section.addEventListener("click", async (event) => {
    const link = event.target.closest("a[href]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    say("받는 중…");
    let response;
    try {
      response = await fetch(link.href, { credentials: "same-origin" });
    } catch (_) {
      say("연결이 끊겨서 받지 못했어요. 다시 해 주세요.", true);
      return;
    }
    if (!response.ok) {
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      say(page.querySelector("[role=alert]")?.textContent || "받지 못했어요.", true);
      return;
    }
    const blob = await response.blob();
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = decodeURIComponent((/filename\*=utf-8''([^;]+)/i.exec(disposition) || /filename="([^"]+)"/.exec(disposition) || [, "download"])[1]);
    const url = URL.createObjectURL(blob);
    const save = document.createElement("a");
    save.href = url;
    save.download = name;
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    say(`${withParticle(name)} 받았어요 (${size(blob.size)}).`);
  });
}
