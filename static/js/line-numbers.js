// Line numbers beside a code textarea (the Dockerfile editor): the gutter follows the text and
// its scrolling.
function attach(editor) {
  const gutter = editor.querySelector(".gutter");
  const area = editor.querySelector("textarea");
  if (!gutter || !area || editor.dataset.numbered) return;
  editor.dataset.numbered = "1";
  const draw = () => {
    const count = area.value.split("\n").length;
    gutter.textContent = Array.from({ length: count }, (_, i) => i + 1).join("\n");
    area.rows = Math.max(count + 1, 3);
  };
  area.addEventListener("input", draw);
  area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });
  draw();
}

const attachAll = () => document.querySelectorAll("[data-line-numbers]").forEach(attach);
attachAll();
document.body.addEventListener("htmx:afterSwap", attachAll);
