// The front end of codat_nb.notebook.table.DataTable: one page of rows, clicked to select.
//
// Rows arrive as pre-escaped HTML cells for the current page only (the kernel pages, so a
// portfolio of any size costs one page here). A click or Space toggles a row's selection (or,
// with `multiple` off, makes it the one selected row); the arrow keys move between rows,
// PageUp/PageDown between pages. The selection is sent to the kernel at once, so the table
// answers even while the kernel is busy with something else.

function render({ model, el }) {
  el.classList.add("codat-nb-datatable");
  const caption = document.createElement("div");
  caption.className = "codat-nb-datatable-caption";
  const table = document.createElement("table");
  table.setAttribute("role", "grid");
  const head = document.createElement("thead");
  const body = document.createElement("tbody");
  table.append(head, body);
  const pager = document.createElement("div");
  pager.className = "codat-nb-pager";
  const prev = button("‹ Previous", "codat-nb-page-prev", () => turn(-1));
  const next = button("Next ›", "codat-nb-page-next", () => turn(1));
  const where = document.createElement("span");
  where.className = "codat-nb-page-info";
  where.setAttribute("aria-live", "polite");
  pager.append(prev, where, next);
  el.append(caption, table, pager);

  let focusIndex = 0;

  function button(text, css, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.className = `codat-nb-page-button ${css}`;
    b.addEventListener("click", onClick);
    return b;
  }

  function pages() {
    return Math.max(1, Math.ceil(model.get("total") / model.get("page_size")));
  }

  function turn(step) {
    const page = Math.min(pages() - 1, Math.max(0, model.get("page") + step));
    if (page !== model.get("page")) {
      focusIndex = step > 0 ? 0 : model.get("page_size") - 1;
      model.set("page", page);
      model.save_changes();
    }
  }

  function choose(id) {
    const multiple = model.get("multiple");
    const selected = model.get("selected");
    let chosen;
    if (!multiple) {
      chosen = [id];
    } else if (selected.includes(id)) {
      chosen = selected.filter((s) => s !== id);
    } else {
      chosen = [...selected, id];
    }
    model.set("selected", chosen);
    model.set("active", chosen.includes(id) ? id : chosen.length ? chosen.at(-1) : null);
    model.save_changes();
  }

  function drawHead() {
    const row = document.createElement("tr");
    if (model.get("multiple")) {
      const th = document.createElement("th");
      th.className = "codat-nb-check";
      th.setAttribute("aria-label", "selected");
      row.append(th);
    }
    for (const label of model.get("columns")) {
      const th = document.createElement("th");
      th.textContent = label;
      th.setAttribute("scope", "col");
      row.append(th);
    }
    head.replaceChildren(row);
  }

  function drawBody() {
    const rows = model.get("rows");
    const selected = new Set(model.get("selected"));
    const multiple = model.get("multiple");
    table.setAttribute("aria-multiselectable", multiple ? "true" : "false");
    table.setAttribute("aria-rowcount", String(model.get("total") + 1));
    focusIndex = Math.min(focusIndex, Math.max(0, rows.length - 1));
    const hadFocus = body.contains(document.activeElement);
    const drawn = rows.map((item, index) => {
      const tr = document.createElement("tr");
      const isSelected = selected.has(item.id);
      tr.className = "codat-nb-row" + (isSelected ? " codat-nb-selected" : "");
      tr.dataset.rowId = item.id;
      tr.setAttribute("role", "row");
      tr.setAttribute("aria-selected", isSelected ? "true" : "false");
      tr.setAttribute("aria-rowindex", String(model.get("page") * model.get("page_size") + index + 2));
      tr.tabIndex = index === focusIndex ? 0 : -1;
      if (multiple) {
        const td = document.createElement("td");
        td.className = "codat-nb-check";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.tabIndex = -1;
        box.checked = isSelected;
        box.setAttribute("aria-label", `select ${item.id}`);
        td.append(box);
        tr.append(td);
      }
      for (const html of item.cells) {
        const td = document.createElement("td");
        td.setAttribute("role", "gridcell");
        td.innerHTML = html; // escaped by the kernel: every value comes from the network
        tr.append(td);
      }
      tr.addEventListener("click", (event) => {
        if (event.target.closest("a")) return; // a link in a cell opens, it does not select
        event.preventDefault();
        focusIndex = index;
        choose(item.id);
      });
      return tr;
    });
    if (!drawn.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = model.get("columns").length + (multiple ? 1 : 0);
      td.className = "codat-nb-empty";
      td.textContent = model.get("empty_text");
      tr.append(td);
      drawn.push(tr);
    }
    body.replaceChildren(...drawn);
    if (hadFocus) focusRow(focusIndex);
    const total = model.get("total");
    const first = model.get("page") * model.get("page_size");
    const last = Math.min(total, first + rows.length);
    where.textContent = total
      ? `rows ${(first + 1).toLocaleString("en")}–${last.toLocaleString("en")} of ` +
        `${total.toLocaleString("en")} · page ${model.get("page") + 1} of ${pages()}`
      : "no rows";
    prev.disabled = model.get("page") === 0;
    next.disabled = model.get("page") >= pages() - 1;
    pager.style.display = pages() > 1 ? "" : "none";
  }

  function focusRow(index) {
    const rows = [...body.querySelectorAll("tr.codat-nb-row")];
    if (!rows.length) return;
    focusIndex = Math.min(rows.length - 1, Math.max(0, index));
    rows.forEach((tr, i) => {
      tr.tabIndex = i === focusIndex ? 0 : -1;
    });
    rows[focusIndex].focus();
  }

  body.addEventListener("keydown", (event) => {
    const rows = [...body.querySelectorAll("tr.codat-nb-row")];
    const current = rows.indexOf(document.activeElement);
    if (current < 0) return;
    const keys = {
      ArrowDown: () => focusRow(current + 1),
      ArrowUp: () => focusRow(current - 1),
      Home: () => focusRow(0),
      End: () => focusRow(rows.length - 1),
      PageDown: () => turn(1),
      PageUp: () => turn(-1),
      " ": () => choose(rows[current].dataset.rowId),
      Enter: () => choose(rows[current].dataset.rowId),
    };
    if (keys[event.key]) {
      event.preventDefault();
      event.stopPropagation(); // JupyterLab must not take the notebook's shortcuts from here
      keys[event.key]();
    }
  });

  function drawCaption() {
    caption.innerHTML = model.get("caption"); // escaped by the kernel
    caption.style.display = model.get("caption") ? "" : "none";
  }

  drawHead();
  drawBody();
  drawCaption();
  model.on("change:columns change:multiple", () => {
    drawHead();
    drawBody();
  });
  model.on("change:rows change:selected change:total change:page change:page_size", drawBody);
  model.on("change:caption", drawCaption);
}

export default { render };
