// Slack's text and Block Kit, rendered to HTML: markdown (markdown blocks, streamed markdown_text),
// mrkdwn (section/context text, plain messages), and the blocks the bot sends. Every piece of text
// is escaped first; only the tags made here reach the page.
"use strict";

const Markup = (() => {
  const EMOJI = {
    eyes: "👀", white_check_mark: "✅", x: "❌", hourglass: "⏳", hourglass_flowing_sand: "⏳",
    warning: "⚠️", thumbsup: "👍", "+1": "👍", heavy_check_mark: "✔️", stop_button: "⏹️",
    octagonal_sign: "🛑", repeat: "🔁", arrows_counterclockwise: "🔄", bar_chart: "📊", tada: "🎉",
  };

  function escape(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function safeUrl(url) {
    return /^(https?:|mailto:|\/)/i.test(url) ? url : "#";
  }

  // Emphasis on already-escaped text: Markdown's **bold**, _italic_, ~~strike~~ and mrkdwn's
  // *bold*, ~strike~ (Slack accepts both in its markdown block).
  function emphasis(html) {
    return html
      .replace(/\*\*([^*\n]+)\*\*/g, "<b>$1</b>")
      .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,!?:;])/g, "$1<b>$2</b>")
      .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,!?:;])/g, "$1<i>$2</i>")
      .replace(/~~([^~\n]+)~~/g, "<s>$1</s>")
      .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,!?:;])/g, "$1<s>$2</s>")
      .replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
  }

  // One line or paragraph without code fences: inline code, mentions, links, then emphasis.
  const INLINE = /`([^`\n]+)`|<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|<!(here|channel|everyone)[^>]*>|<#([CG][A-Z0-9]+)(?:\|([^>]*))?>|<(https?:\/\/[^|>\s]+)(?:\|([^>]*))?>|\[([^\]\n]+)\]\((https?:\/\/[^)\s]+)\)/g;

  function inline(text, names) {
    let out = "";
    let last = 0;
    for (const m of String(text).matchAll(INLINE)) {
      out += emphasis(escape(text.slice(last, m.index)));
      if (m[1] !== undefined) out += `<code>${escape(m[1])}</code>`;
      else if (m[2] !== undefined) out += `<span class="mention">@${escape((names && names[m[2]]) || m[2])}</span>`;
      else if (m[3] !== undefined) out += `<span class="mention">@${m[3]}</span>`;
      else if (m[4] !== undefined) out += `<span class="mention">#${escape(m[5] || (names && names[m[4]]) || m[4])}</span>`;
      else if (m[6] !== undefined) out += `<a href="${escape(safeUrl(m[6]))}" target="_blank" rel="noopener">${escape(m[7] || m[6])}</a>`;
      else out += `<a href="${escape(safeUrl(m[9]))}" target="_blank" rel="noopener">${escape(m[8])}</a>`;
      last = m.index + m[0].length;
    }
    return out + emphasis(escape(text.slice(last)));
  }

  function table(lines, names) {
    const rows = lines.filter((l) => /[^|\s:-]/.test(l)); // drop the |---|:--:| separator line
    const cells = (l) => l.trim().replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
    const [head, ...body] = rows;
    return `<table class="md-table"><tr>${cells(head).map((c) => `<th>${inline(c, names)}</th>`).join("")}</tr>${body
      .map((r) => `<tr>${cells(r).map((c) => `<td>${inline(c, names)}</td>`).join("")}</tr>`)
      .join("")}</table>`;
  }

  // Text outside code fences, line by line: headings, quotes and tables; the rest keeps its line
  // breaks (the container is white-space: pre-wrap).
  function prose(text, names) {
    const lines = text.split("\n");
    const out = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (/^\s*\|.*\|\s*$/.test(line)) {
        const group = [];
        while (i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i])) group.push(lines[i++]);
        i--;
        out.push(table(group, names));
        continue;
      }
      const heading = /^#{1,6}\s+(.*)$/.exec(line);
      if (heading) out.push(`<span class="md-heading">${inline(heading[1], names)}</span>`);
      else if (/^&gt;|^>/.test(line)) out.push(`<span class="quote">▎${inline(line.replace(/^>\s?/, ""), names)}</span>`);
      else out.push(inline(line.replace(/^(\s*)[-*] /, "$1• "), names));
    }
    return out.join("\n").replace(/<\/table>\n/g, "</table>");
  }

  // Markdown or mrkdwn: ``` fences become <pre>; an unterminated fence (still streaming) too.
  function markdown(text, names) {
    if (!text) return "";
    const parts = String(text).split("```");
    return parts
      .map((part, i) => {
        if (i % 2 === 0) return prose(part, names);
        const code = part.replace(/^[a-z0-9_+-]*\n/i, "");
        return `<pre><code>${escape(code.replace(/\n$/, ""))}</code></pre>`;
      })
      .join("");
  }

  function textObject(obj, names) {
    if (!obj || typeof obj !== "object") return "";
    return obj.type === "mrkdwn" ? markdown(obj.text, names) : escape(obj.text || "");
  }

  function image(img, small) {
    const src = img.playground_src;
    const alt = escape(img.alt_text || "");
    if (!src) return `<span class="missing-image">[image: ${alt}]</span>`;
    if (small) return `<img src="${escape(safeUrl(src))}" alt="${alt}">`;
    const title = img.title ? `<figcaption>${escape(img.title.text || "")}</figcaption>` : "";
    return `<figure>${title}<a href="${escape(safeUrl(src))}" target="_blank"><img class="inline-image" src="${escape(safeUrl(src))}" alt="${alt}"></a></figure>`;
  }

  function element(el, ctx) {
    if (el.type === "button") {
      const style = el.style ? ` ${el.style}` : "";
      const confirm = el.confirm ? ` data-confirm="${escape(JSON.stringify(el.confirm))}"` : "";
      const value = el.value !== undefined ? ` data-value="${escape(el.value)}"` : "";
      if (el.url) return `<a class="btn${style}" href="${escape(safeUrl(el.url))}" target="_blank">${escape(el.text.text)}</a>`;
      return `<button class="btn${style}" data-ts="${escape(ctx.ts)}" data-action-id="${escape(el.action_id)}"${value}${confirm}>${escape(el.text.text)}</button>`;
    }
    if (el.type === "image") return image(el, true);
    if (el.type === "mrkdwn" || el.type === "plain_text") return `<span>${textObject(el, ctx.names)}</span>`;
    return "";
  }

  function rich(el, names) {
    const leaf = (l) => {
      if (l.type === "text") {
        let t = escape(l.text || "");
        const s = l.style || {};
        if (s.code) t = `<code>${t}</code>`;
        if (s.bold) t = `<b>${t}</b>`;
        if (s.italic) t = `<i>${t}</i>`;
        if (s.strike) t = `<s>${t}</s>`;
        return t;
      }
      if (l.type === "user") return `<span class="mention">@${escape((names && names[l.user_id]) || l.user_id)}</span>`;
      if (l.type === "link") return `<a href="${escape(safeUrl(l.url))}" target="_blank">${escape(l.text || l.url)}</a>`;
      if (l.type === "emoji") return EMOJI[l.name] || `:${escape(l.name)}:`;
      if (l.elements) return rich(l, names);
      return "";
    };
    const kids = (el.elements || []).map(leaf).join("");
    if (el.type === "rich_text_preformatted") return `<pre>${kids}</pre>`;
    if (el.type === "rich_text_quote") return `<span class="quote">▎${kids}</span>`;
    if (el.type === "rich_text_list") return (el.elements || []).map((c) => `• ${rich(c, names)}`).join("\n") + "\n";
    return kids;
  }

  function block(b, ctx) {
    const names = ctx.names;
    switch (b.type) {
      case "markdown":
        return `<div class="block markdown text">${markdown(b.text, names)}</div>`;
      case "section": {
        const text = b.text ? `<div class="text">${textObject(b.text, names)}</div>` : "";
        const fields = b.fields ? `<div class="block fields">${b.fields.map((f) => `<div class="text">${textObject(f, names)}</div>`).join("")}</div>` : "";
        const accessory = b.accessory ? `<div class="accessory">${b.accessory.type === "image" ? image(b.accessory, false) : element(b.accessory, ctx)}</div>` : "";
        return `<div class="block section">${text}${fields}${accessory}</div>`;
      }
      case "header":
        return `<div class="block header">${textObject(b.text, names)}</div>`;
      case "divider":
        return `<hr class="block divider">`;
      case "context":
        return `<div class="block context">${(b.elements || []).map((e) => element(e, ctx)).join("")}</div>`;
      case "actions":
        return `<div class="block actions">${(b.elements || []).map((e) => element(e, ctx)).join("")}</div>`;
      case "image":
        return `<div class="block image">${image(b, false)}</div>`;
      case "rich_text":
        return `<div class="block text">${(b.elements || []).map((e) => rich(e, names)).join("")}</div>`;
      default:
        return "";
    }
  }

  function blocks(list, ctx) {
    return (list || []).map((b) => block(b, ctx)).join("");
  }

  return { escape, markdown, blocks, inline, EMOJI };
})();
