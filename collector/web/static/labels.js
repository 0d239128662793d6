// Column labels in the reader's language, above each column's name (window.rondaLabels,
// set by ronda's plugin). Without JavaScript the names alone show.
document.addEventListener("DOMContentLoaded", () => {
  const labels = window.rondaLabels || {};
  for (const th of document.querySelectorAll("table.rows-and-columns th")) {
    const name = th.dataset.column || th.textContent.trim();
    const label = labels[name];
    if (!label || th.querySelector(".ronda-label")) continue;
    const target = th.querySelector("a") || th;
    const column = document.createElement("span");
    column.className = "ronda-column";
    column.textContent = target.textContent.trim();
    const text = document.createElement("span");
    text.className = "ronda-label";
    text.textContent = label;
    target.textContent = "";
    target.append(text, column);
    th.title = name;
  }
});
