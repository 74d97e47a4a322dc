// A modal the app opened (views.open): its inputs as a form, read back the way Slack's client sends
// them (by block_id: text, an option's value, or a list of values). Every text of the view is escaped;
// only the tags made here reach the page.
"use strict";

const Modal = (() => {
  const M = Markup;
  const esc = M.escape;

  function text(obj) {
    return esc((obj && obj.text) || "");
  }

  function chosen(el) {
    const initial = el.initial_options || (el.initial_option ? [el.initial_option] : []);
    return new Set(initial.map((o) => o.value));
  }

  function option(o, on, kind, name) {
    const about = o.description ? ` <small>${text(o.description)}</small>` : "";
    return `<label class="modal-choice"><input type="${kind}" name="${esc(name)}" value="${esc(o.value)}"${on ? " checked" : ""}> ${text(o.text)}${about}</label>`;
  }

  function element(el, blockId) {
    const on = chosen(el);
    const options = el.options || [];
    switch (el.type) {
      case "plain_text_input": {
        const max = el.max_length ? ` maxlength="${Number(el.max_length)}"` : "";
        const hint = el.placeholder ? ` placeholder="${text(el.placeholder)}"` : "";
        const value = esc(el.initial_value || "");
        return el.multiline
          ? `<textarea rows="4"${max}${hint}>${value}</textarea>`
          : `<input type="text" value="${value}"${max}${hint}>`;
      }
      case "number_input":
        return `<input type="number" step="any" value="${esc(el.initial_value || "")}">`;
      case "static_select":
      case "multi_static_select": {
        const multiple = el.type === "multi_static_select" ? " multiple" : "";
        const blank = multiple || on.size ? "" : `<option value="">Choose…</option>`;
        const list = options.map((o) => `<option value="${esc(o.value)}"${on.has(o.value) ? " selected" : ""}>${text(o.text)}</option>`);
        return `<select${multiple}>${blank}${list.join("")}</select>`;
      }
      case "checkboxes":
        return options.map((o) => option(o, on.has(o.value), "checkbox", blockId)).join("");
      case "radio_buttons":
        return options.map((o) => option(o, on.has(o.value), "radio", blockId)).join("");
      default:
        return `<em>(a ${esc(el.type)} is not shown in the playground)</em>`;
    }
  }

  function input(block, errors) {
    const el = block.element || {};
    const id = block.block_id;
    const optional = block.optional ? ` <small>(optional)</small>` : "";
    const hint = block.hint ? `<div class="modal-hint">${text(block.hint)}</div>` : "";
    const error = errors[id] ? `<div class="modal-error">${esc(errors[id])}</div>` : "";
    return `<div class="modal-input" data-block-id="${esc(id)}" data-type="${esc(el.type)}">
      <div class="modal-label">${text(block.label)}${optional}</div>${element(el, id)}${hint}${error}</div>`;
  }

  // The whole form: inputs as fields, any other block as the page shows blocks.
  function html(modal, names) {
    const errors = modal.errors || {};
    const body = (modal.blocks || [])
      .map((b) => (b.type === "input" ? input(b, errors) : M.blocks([b], { names, ts: "" })))
      .join("");
    const submit = modal.submit ? `<button type="submit" class="primary">${text(modal.submit)}</button>` : "";
    return `<form class="modal-box"><h4>${text(modal.title)}</h4><div class="modal-body">${body}</div>
      <div class="dialog-buttons"><button type="button" class="modal-cancel">${text(modal.close) || "Cancel"}</button>${submit}</div></form>`;
  }

  // What the person entered, by block_id, as the emulator's submit_modal takes it.
  function values(form) {
    const out = {};
    form.querySelectorAll(".modal-input").forEach((field) => {
      const id = field.dataset.blockId;
      switch (field.dataset.type) {
        case "checkboxes":
          out[id] = [...field.querySelectorAll("input:checked")].map((i) => i.value);
          break;
        case "radio_buttons": {
          const picked = field.querySelector("input:checked");
          out[id] = picked ? picked.value : null;
          break;
        }
        case "static_select":
          out[id] = field.querySelector("select").value || null;
          break;
        case "multi_static_select":
          out[id] = [...field.querySelector("select").selectedOptions].map((o) => o.value);
          break;
        case "plain_text_input":
        case "number_input":
          out[id] = field.querySelector("input, textarea").value;
          break;
        default:
          break; // not shown: it keeps its initial value
      }
    });
    return out;
  }

  // The errors the app answered with, under their inputs, leaving what the person entered as it is
  // (Slack's client keeps the form when a submission comes back with errors).
  function showErrors(form, errors) {
    form.querySelectorAll(".modal-error").forEach((e) => e.remove());
    form.querySelectorAll(".modal-input").forEach((field) => {
      const message = (errors || {})[field.dataset.blockId];
      if (!message) return;
      const el = document.createElement("div");
      el.className = "modal-error";
      el.textContent = message;
      field.append(el);
    });
  }

  return { html, values, showErrors };
})();
