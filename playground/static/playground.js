// The page: renders the state the server pushes over /playground/ws, and sends what the person does
// (post, attach, press a button, run /claude, fill in a modal, switch person, open a thread or the Home tab).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const M = Markup;
const TASK_ICON = { pending: "⏳", in_progress: "⏳", complete: "✅", error: "❌" };
const COLORS = ["#e8912d", "#2bac76", "#1264a3", "#e01e5a", "#4a154b", "#36c5f0"];

let socket = null;
let current = null; // the last state
const view = {
  user: sessionStorage.getItem("playground.user") || "U0123ABCD",
  channel: "C0123ABCD",
  thread: null,
  tab: "messages",
};
const openTasks = new Set(); // task cards the person expanded (kept across re-renders)
const lastOwnPost = { ts: null };

// ------------------------------------------------------------------ socket
function connect() {
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/playground/ws`);
  socket.onopen = () => send({ op: "view", ...view });
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "state") render(data);
    else if (data.type === "error") toast(data.message);
    else if (data.type === "posted") onPosted(data);
  };
  socket.onclose = () => setTimeout(connect, 1000);
}

function send(command) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(command));
}

function move(change) {
  if ("thread" in change && change.thread !== view.thread) $("#thread-messages").dataset.stuck = "1";
  if ("channel" in change && change.channel !== view.channel) $("#messages").dataset.stuck = "1";
  Object.assign(view, change);
  sessionStorage.setItem("playground.user", view.user);
  send({ op: "view", ...view });
}

function toast(text) {
  const el = document.createElement("div");
  el.className = "toast";
  el.textContent = text;
  $("#toasts").append(el);
  setTimeout(() => el.remove(), 6000);
}

// A top-level question of mine to the app: open its thread, where the answer comes.
function onPosted(data) {
  if (!data.thread && data.asks_app) move({ thread: data.ts });
}

// ------------------------------------------------------------------ render
function render(state) {
  current = state;
  view.user = state.me;
  view.channel = state.view.channel;
  view.thread = state.view.thread;
  view.tab = state.view.tab;
  renderSidebar(state);
  const channel = state.channels.find((c) => c.id === state.view.channel);
  const home = state.view.tab === "home";
  $("#home").hidden = !home;
  $("#messages").hidden = home;
  $("#main-composer").hidden = home;
  if (home) {
    $("#channel-header").innerHTML = `<span>🏠 claude · Home</span>`;
    setHtml(
      $("#home"),
      state.home
        ? M.blocks(state.home.blocks, { names: state.names, ts: "" })
        : `<p class="welcome">The app has not published a Home tab for you (yet): it does when you open it.</p>`,
    );
  } else {
    const title = !channel ? "" : channel.kind === "im" ? "💬 claude" : `# ${M.escape(channel.name)}`;
    const note = channel && channel.kind !== "im" && !channel.bot_member ? " <small>(claude is not in this channel)</small>" : "";
    $("#channel-header").innerHTML = `<span>${title}${note}</span>`;
    patch($("#messages"), state.messages, (m) => messageHtml(m, state, true), welcome(state));
  }
  const thread = state.thread;
  $("#thread-pane").hidden = !thread || home;
  if (thread) {
    patch($("#thread-messages"), thread.messages, (m) => messageHtml(m, state, false), "");
    const status = $("#status-line");
    status.hidden = !thread.status;
    if (thread.status) {
      const loading = thread.status.loading_messages.length ? thread.status.loading_messages[0] : thread.status.status;
      status.textContent = `claude ${loading}`;
    }
  }
  composers.forEach((c) => c.refresh());
  renderModal(state);
}

// A modal the app opened for me (`/claude config`): drawn again only when the app changed its view;
// errors it answered with are shown under their inputs, and what I entered stays.
let shownModal = "";
function renderModal(state) {
  const box = $("#modal");
  const modal = state.modal;
  const key = modal ? JSON.stringify([modal.id, modal.title, modal.blocks]) : "";
  if (key === shownModal) {
    if (modal) Modal.showErrors($("form", box), modal.errors);
    return;
  }
  shownModal = key;
  box.hidden = !modal;
  if (!modal) return (box.innerHTML = "");
  box.innerHTML = Modal.html(modal, state.names);
  const form = $("form", box);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    send({ op: "modal_submit", values: Modal.values(form) });
  });
  $(".modal-cancel", form).addEventListener("click", () => send({ op: "modal_close" }));
}

// Only what changed is replaced: images do not reload, a select keeps its choice.
function setHtml(el, html) {
  if (el.dataset.html !== html) {
    el.innerHTML = html;
    el.dataset.html = html;
  }
}

function renderSidebar(state) {
  const people = $("#person");
  setHtml(people, state.people.map((p) => `<option value="${p.id}">${M.escape(p.real_name)}${p.admin ? " (admin)" : ""}</option>`).join(""));
  people.value = state.me;
  setHtml($("#backend"), `<b>Model: ${M.escape(state.backend.name)}</b><br>${M.escape(state.backend.detail)}`);
  const bot = $("#bot-state");
  bot.dataset.state = state.bot.state;
  const label = { starting: "bot starting…", ready: "bot ready", exited: `bot stopped (exit ${state.bot.exit_code})` }[state.bot.state];
  setHtml(bot, M.escape(label) + (state.bot.log.length ? `<pre>${M.escape(state.bot.log.join("\n"))}</pre>` : ""));
  const channels = state.channels.filter((c) => c.kind !== "im");
  const html = channels
    .map((c) => `<li><a href="#" class="nav${c.id === state.view.channel && state.view.tab !== "home" ? " active" : ""}" data-channel="${c.id}">${c.kind === "private" ? "🔒" : "#"} ${M.escape(c.name)}</a></li>`)
    .join("");
  setHtml($("#channels"), html);
  const dm = state.channels.find((c) => c.kind === "im");
  $("#open-dm").classList.toggle("active", !!dm && dm.id === state.view.channel && state.view.tab !== "home");
  $("#open-home").classList.toggle("active", state.view.tab === "home");
}

function welcome(state) {
  if (!state.backend.emulated) {
    return `<div class="welcome">Mention <b>@claude</b> with a question, attach a CSV or a spreadsheet, and
      Claude answers in the message's thread.</div>`;
  }
  return `<div class="welcome"><b>Try it:</b> the model here is the Anthropic emulator. It answers with your
    text and runs each <code>\`\`\`python</code> block of your message as a real code run (pandas and
    matplotlib are there; attachments are in <code>$INPUT_DIR</code>; files saved to <code>$OUTPUT_DIR</code>
    come back to the thread). <button class="btn" id="example">Fill in an example with a CSV</button></div>`;
}

// Keep each message's element while its HTML is the same: images do not reload and expanded steps
// stay open while an answer streams.
function patch(container, messages, html, empty) {
  if (!messages.length) {
    if (container.dataset.empty !== "1") {
      container.innerHTML = empty;
      container.dataset.empty = "1";
    }
    return;
  }
  if (container.dataset.empty === "1") {
    container.innerHTML = "";
    container.dataset.empty = "0";
  }
  const existing = new Map([...container.children].map((el) => [el.dataset.ts, el]));
  let previous = null;
  for (const m of messages) {
    const markup = html(m);
    let el = existing.get(m.ts);
    existing.delete(m.ts);
    if (!el || (el.dataset.html !== markup && !el.dataset.editing)) {
      const fresh = document.createElement("div");
      fresh.innerHTML = markup;
      const node = fresh.firstElementChild;
      node.dataset.html = markup;
      if (el) el.replaceWith(node);
      el = node;
    }
    const next = previous ? previous.nextSibling : container.firstChild;
    if (el !== next) container.insertBefore(el, next);
    previous = el;
  }
  existing.forEach((el) => el.remove());
  stick(container);
}

// A list read at its end stays at its end as messages arrive, stream and their images load.
function stick(container) {
  if (container.dataset.stuck !== "0") container.scrollTop = container.scrollHeight;
}
for (const list of document.querySelectorAll(".messages")) {
  list.addEventListener("scroll", () => {
    list.dataset.stuck = list.scrollHeight - list.scrollTop - list.clientHeight < 40 ? "1" : "0";
  });
  list.addEventListener("load", () => stick(list), true);
}

function messageHtml(m, state, inChannel) {
  const names = state.names;
  const ctx = { names, ts: m.ts };
  const name = m.is_bot ? names[m.user] || m.user_name : m.user_name;
  const color = COLORS[[...m.user].reduce((a, c) => a + c.charCodeAt(0), 0) % COLORS.length];
  const time = new Date(parseFloat(m.ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  let body = "";
  if (m.deleted) body = `<div class="text">${M.escape(m.text)}</div>`;
  else {
    if (m.stream_state !== null) {
      body += m.markdown ? `<div class="text">${M.markdown(m.markdown, names)}</div>` : "";
      if (m.plan_title) body += `<div class="plan-title">${M.escape(m.plan_title)}</div>`;
      body += m.tasks.map((t) => taskHtml(m.ts, t, names)).join("");
      body += M.blocks(m.blocks, ctx);
      if (m.stream_state === "streaming") body += `<span class="cursor"></span>`;
    } else if (m.blocks.length) body += M.blocks(m.blocks, ctx);
    else if (m.markdown) body += `<div class="text">${M.markdown(m.markdown, names)}</div>`;
    else if (m.text) body += `<div class="text">${M.markdown(m.text, names)}</div>`;
    body += m.attachments.map((a) => `<div class="text attachment">${M.markdown(a, names)}</div>`).join("");
    body += filesHtml(m.files);
  }
  const reactions = Object.entries(m.reactions)
    .map(([r, who]) => `<span class="reaction" title="${M.escape(who.join(", "))}">${M.EMOJI[r] || `:${M.escape(r)}:`} ${who.length}</span>`)
    .join("");
  const replies = inChannel && m.reply_count
    ? `<div class="replies"><a data-open-thread="${m.ts}">${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}</a> <span class="time">${M.escape(m.reply_names.join(", "))}</span></div>`
    : inChannel && !m.ephemeral && !m.deleted
      ? `<div class="replies"><a data-open-thread="${m.ts}" class="reply-link">Reply in thread</a></div>`
      : "";
  const own = m.user === state.me && !m.is_bot && !m.ephemeral && !m.deleted;
  const tools = own
    ? `<span class="message-tools"><a data-edit="${m.ts}">Edit</a> · <a data-delete="${m.ts}">Delete</a></span>`
    : "";
  return `<div class="message${m.ephemeral ? " ephemeral" : ""}${m.deleted ? " deleted" : ""}" data-ts="${m.ts}">
    <div class="avatar" style="background:${color}">${M.escape(name[0].toUpperCase())}</div>
    <div class="body">
      <div class="meta"><span class="name">${M.escape(name)}</span>${m.is_bot ? '<span class="tag">APP</span>' : ""}
        <span class="time">${time}</span>${m.edited ? '<span class="edited">(edited)</span>' : ""}
        ${m.ephemeral ? '<span class="only-you">Only visible to you</span>' : ""}${tools}</div>
      ${body}
      ${reactions ? `<div class="reactions">${reactions}</div>` : ""}
      ${replies}
    </div></div>`;
}

function taskHtml(ts, task, names) {
  const key = `${ts}/${task.id}`;
  const details = task.details ? `<div class="task-details">${M.markdown(task.details, names)}</div>` : "";
  // The bot writes a step's output as markdown (its head in a code block), like its details.
  const output = task.output ? `<div class="task-details">${M.markdown(task.output, names)}</div>` : "";
  return `<details class="task" data-status="${M.escape(task.status)}" data-key="${M.escape(key)}"${openTasks.has(key) ? " open" : ""}>
    <summary>${TASK_ICON[task.status] || "•"} ${M.inline(task.title, names)}</summary>${details}${output}</details>`;
}

function filesHtml(files) {
  if (!files.length) return "";
  const items = files.map((f) => {
    if (f.is_image) {
      return `<div class="file-image"><a href="${f.url}" target="_blank"><img class="inline-image" src="${f.url}" alt="${M.escape(f.name)}"></a>
        <div><a class="download" href="${f.url}?download=1">${M.escape(f.name)}</a></div></div>`;
    }
    return `<a class="file-card download" href="${f.url}?download=1">📄 <span>${M.escape(f.name)}</span> <span class="size">${size(f.size)}</span></a>`;
  });
  return `<div class="files">${items.join("")}</div>`;
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// ---------------------------------------------------------------- composer
const composers = [];

function makeComposer(slot, threadOf) {
  const form = $("#composer-template").content.firstElementChild.cloneNode(true);
  slot.append(form);
  const input = $("textarea", form);
  const uploads = $(".uploads", form);
  const sendButton = $(".send", form);
  const menu = $(".mention-menu", form);
  let pending = []; // {id | null, name, el}
  let choices = [];
  let selected = 0;

  function refreshSend() {
    sendButton.disabled = pending.some((u) => !u.id) || (!input.value.trim() && !pending.length);
  }

  async function attach(fileList) {
    for (const file of fileList) {
      const item = { id: null, name: file.name, el: document.createElement("span") };
      item.el.className = "upload pending";
      item.el.innerHTML = `📎 ${M.escape(file.name)} <button type="button" title="Remove">✕</button>`;
      $("button", item.el).onclick = () => {
        pending = pending.filter((u) => u !== item);
        item.el.remove();
        refreshSend();
      };
      pending.push(item);
      uploads.append(item.el);
      refreshSend();
      const body = new FormData();
      body.append("file", file, file.name);
      try {
        const response = await fetch("/playground/upload", { method: "POST", body });
        if (!response.ok) throw new Error(await response.text());
        item.id = (await response.json()).id;
        item.el.classList.remove("pending");
      } catch (error) {
        toast(`Could not attach ${file.name}: ${error.message}`);
        pending = pending.filter((u) => u !== item);
        item.el.remove();
      }
      refreshSend();
    }
  }

  function submit() {
    if (sendButton.disabled) return;
    send({ op: "post", text: input.value, thread: threadOf(), uploads: pending.map((u) => u.id) });
    input.value = "";
    pending.forEach((u) => u.el.remove());
    pending = [];
    hideMenu();
    refreshSend();
  }

  // @mentions: a small menu of the people and the app while a word starts with @.
  function mentionWord() {
    const before = input.value.slice(0, input.selectionStart);
    const match = /(^|\s)@([\w.-]*)$/.exec(before);
    return match ? match[2] : null;
  }
  function showMenu() {
    const word = mentionWord();
    if (word === null || !current) return hideMenu();
    const handles = [{ handle: "claude", label: "claude (app)" }, ...current.people.map((p) => ({ handle: p.name, label: p.real_name }))];
    choices = handles.filter((h) => h.handle.startsWith(word.toLowerCase()));
    if (!choices.length) return hideMenu();
    selected = Math.min(selected, choices.length - 1);
    menu.innerHTML = choices.map((c, i) => `<div data-i="${i}" class="${i === selected ? "selected" : ""}">@${M.escape(c.handle)} <small>${M.escape(c.label)}</small></div>`).join("");
    menu.hidden = false;
  }
  function hideMenu() {
    menu.hidden = true;
    choices = [];
    selected = 0;
  }
  function pick(i) {
    const word = mentionWord();
    const at = input.selectionStart - word.length;
    input.value = `${input.value.slice(0, at)}${choices[i].handle} ${input.value.slice(input.selectionStart)}`;
    input.selectionStart = input.selectionEnd = at + choices[i].handle.length + 1;
    hideMenu();
    input.focus();
  }
  menu.addEventListener("mousedown", (e) => {
    const item = e.target.closest("[data-i]");
    if (item) {
      e.preventDefault();
      pick(Number(item.dataset.i));
    }
  });

  input.addEventListener("input", () => {
    showMenu();
    refreshSend();
  });
  input.addEventListener("keydown", (e) => {
    if (!menu.hidden && choices.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        selected = (selected + (e.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length;
        showMenu();
        e.preventDefault();
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        pick(selected);
        e.preventDefault();
        return;
      }
      if (e.key === "Escape") return hideMenu();
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      submit();
    }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  $("input[type=file]", form).addEventListener("change", (e) => {
    attach([...e.target.files]);
    e.target.value = "";
  });
  form.addEventListener("dragover", (e) => {
    e.preventDefault();
    form.classList.add("dragging");
  });
  form.addEventListener("dragleave", (e) => {
    if (!form.contains(e.relatedTarget)) form.classList.remove("dragging");
  });
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("dragging");
    if (e.dataTransfer && e.dataTransfer.files.length) attach([...e.dataTransfer.files]);
  });

  const composer = {
    form,
    input,
    attach,
    refresh() {
      input.placeholder = threadOf() ? "Reply…" : `Message ${$("#channel-header").textContent.trim()}`;
      refreshSend();
    },
  };
  composers.push(composer);
  return composer;
}

// ---------------------------------------------------------------- actions
function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const dialog = $("#dialog");
    $(".dialog-title", dialog).textContent = (confirm.title && confirm.title.text) || "Are you sure?";
    $(".dialog-text", dialog).textContent = (confirm.text && confirm.text.text) || "";
    $(".dialog-confirm", dialog).textContent = (confirm.confirm && confirm.confirm.text) || "Yes";
    $(".dialog-deny", dialog).textContent = (confirm.deny && confirm.deny.text) || "Cancel";
    const done = (answer) => {
      dialog.hidden = true;
      resolve(answer);
    };
    $(".dialog-confirm", dialog).onclick = () => done(true);
    $(".dialog-deny", dialog).onclick = () => done(false);
    dialog.hidden = false;
  });
}

document.addEventListener("click", async (e) => {
  const target = e.target.closest("button[data-action-id], a[data-open-thread], a[data-channel], a[data-edit], a[data-delete], #example");
  if (!target) return;
  e.preventDefault();
  if (target.id === "example") return fillExample();
  if (target.dataset.edit) return startEditing(target.closest(".message"), target.dataset.edit);
  if (target.dataset.delete) {
    const sure = { title: { text: "Delete message" }, text: { text: "Are you sure you want to delete this message?" }, confirm: { text: "Delete" } };
    if (await confirmDialog(sure)) send({ op: "delete", ts: target.dataset.delete });
    return;
  }
  if (target.dataset.openThread) return move({ thread: target.dataset.openThread, tab: "messages" });
  if (target.dataset.channel) return move({ channel: target.dataset.channel, thread: null, tab: "messages" });
  if (target.dataset.confirm && !(await confirmDialog(JSON.parse(target.dataset.confirm)))) return;
  send({ op: "press", ts: target.dataset.ts, action_id: target.dataset.actionId, value: target.dataset.value });
});

// Editing one's own message: the text becomes a box until Save (or Escape); the message keeps its
// place while the updates around it go on.
function startEditing(message, ts) {
  const all = [...(current.messages || []), ...((current.thread && current.thread.messages) || [])];
  const original = all.find((m) => m.ts === ts);
  const text = message && $(".text", message);
  if (!text || !original || message.dataset.editing) return;
  message.dataset.editing = "1";
  const box = document.createElement("div");
  box.className = "editing";
  box.innerHTML = `<textarea rows="3"></textarea><div><button class="btn save">Save</button> <button class="btn cancel">Cancel</button></div>`;
  const input = $("textarea", box);
  input.value = original.text.replace(/<@([UW][A-Z0-9]+)>/g, (_, id) => `@${(current.names[id] || id).split(" ")[0].toLowerCase()}`);
  text.replaceWith(box);
  const done = (save) => {
    if (save) send({ op: "edit", ts, text: input.value });
    delete message.dataset.editing;
    message.dataset.html = ""; // the next update draws it afresh
    box.replaceWith(text);
  };
  $(".save", box).onclick = () => done(true);
  $(".cancel", box).onclick = () => done(false);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      done(true);
    } else if (e.key === "Escape") done(false);
  });
  input.focus();
}

document.addEventListener("toggle", (e) => {
  if (e.target.matches && e.target.matches("details.task")) {
    if (e.target.open) openTasks.add(e.target.dataset.key);
    else openTasks.delete(e.target.dataset.key);
    // the stored HTML must say it, or the next patch would see no change and keep a stale copy
    const message = e.target.closest(".message");
    if (message) message.dataset.html = "";
  }
}, true);

$("#person").addEventListener("change", (e) => move({ user: e.target.value, thread: null }));
$("#open-dm").addEventListener("click", (e) => {
  e.preventDefault();
  move({ channel: "dm", thread: null, tab: "messages" });
});
$("#open-home").addEventListener("click", (e) => {
  e.preventDefault();
  move({ tab: "home" });
});
$("#close-thread").addEventListener("click", () => move({ thread: null }));

const SAMPLE_CSV = "month,product,revenue\n2026-01,apples,120\n2026-01,pears,80\n2026-02,apples,150\n2026-02,pears,70\n";
const SAMPLE_CODE = [
  "@claude which product grew fastest?",
  "```python",
  "import os",
  "import pandas as pd",
  "import matplotlib.pyplot as plt",
  'df = pd.read_csv(os.path.join(os.environ["INPUT_DIR"], "sales.csv"))',
  'growth = df.pivot(index="month", columns="product", values="revenue")',
  'growth.plot(kind="bar", title="Revenue per product")',
  'plt.savefig(os.path.join(os.environ["OUTPUT_DIR"], "growth.png"))',
  "print(growth.pct_change().iloc[-1].idxmax())",
  "```",
].join("\n");

function fillExample() {
  const composer = composers[0];
  composer.input.value = SAMPLE_CODE;
  composer.attach([new File([SAMPLE_CSV], "sales.csv", { type: "text/csv" })]);
  composer.input.focus();
}

makeComposer($("#main-composer"), () => null);
makeComposer($("#thread-composer"), () => view.thread);
connect();
