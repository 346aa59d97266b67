// Say so in the page when a request or a live socket fails, instead of leaving a silent button
// or a spinner that never stops.
const messages = {
  response: "서버가 요청을 처리하지 못했어요. 잠시 후 다시 시도해 주세요.",
  send: "서버에 연결할 수 없어요. 네트워크를 확인하고 다시 시도해 주세요.",
  socket: "실시간 연결이 끊겼어요. 다시 연결하는 중이에요…",
};

function showIn(target, text) {
  if (!target) return;
  const p = document.createElement("p");
  p.className = "run-status run-status--failed";
  p.setAttribute("role", "alert");
  p.textContent = text;
  target.replaceChildren(p);
}

document.body.addEventListener("htmx:responseError", (event) => {
  showIn(event.detail.target, messages.response);
});
document.body.addEventListener("htmx:sendError", (event) => {
  showIn(event.detail.target, messages.send);
});
document.body.addEventListener("htmx:wsClose", (event) => {
  // 1000: the run ended and the server closed the socket; 4403: refused, already explained.
  const code = event.detail.event.code;
  if (code === 1000 || code === 4403) return;
  const status = event.target.querySelector(".run-status");
  if (status) {
    status.className = "run-status run-status--failed";
    status.textContent = messages.socket;
  }
});
