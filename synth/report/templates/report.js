// Filters of the trajectory browser; opening a trajectory is a link to its #t-N anchor.
(function () {
  const controls = {
    family: document.getElementById("filter-family"),
    difficulty: document.getElementById("filter-difficulty"),
    outcome: document.getElementById("filter-outcome"),
    finish: document.getElementById("filter-finish"),
  };
  const task = document.getElementById("filter-task");
  const rows = Array.from(document.querySelectorAll("tr.trajectory-row"));
  const count = document.getElementById("shown-count");

  function apply() {
    let shown = 0;
    for (const row of rows) {
      let visible = Object.entries(controls).every(
        ([key, select]) => !select.value || row.dataset[key] === select.value);
      visible = visible && (!task.value || row.dataset.task.includes(task.value.trim()));
      row.hidden = !visible;
      if (visible) shown += 1;
    }
    count.textContent = String(shown);
  }

  for (const select of Object.values(controls)) select.addEventListener("change", apply);
  task.addEventListener("input", apply);
  for (const row of rows) {
    row.addEventListener("click", (event) => {
      if (event.target.tagName !== "A") window.location.hash = row.dataset.target;
    });
  }
  apply();
})();
