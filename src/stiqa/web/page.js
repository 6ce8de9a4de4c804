(() => {
  const plain = (html) => {
    if (typeof html !== "string" || !html.includes("data-copy=")) return null;
    const el = new DOMParser().parseFromString(html, "text/html").querySelector("[data-copy]");
    return el ? el.getAttribute("data-copy") : null;
  };
  const clip = navigator.clipboard;
  if (clip && clip.writeText) {
    const write = clip.writeText.bind(clip);
    clip.writeText = (text) => write(plain(text) ?? text);
  }
  const WORDS = [[/^More tabs$/, "ほかのタブ"], [/^Liked$/, "よい（評価済み）"], [/^Disliked$/, "よくない（評価済み）"], [/^Loading content$/, "回答を準備中"],
    [/^Invalid file types?: (.*)\. Only (.*) allowed\.$/, "追加できない種類のファイルです: $1（$2 のみ）"],
    [/^File\(s\) exceed the maximum allowed size of (.*?): (.*)$/, "ファイルが大きすぎます（上限 $1）: $2"],
    [/^Error$/, "エラー"], [/^processing \|$/, "処理中 |"], [/^queue: (.*) \|$/, "順番待ち $1 |"],
    [/^Loading\.\.\.$/, "読み込み中…"], [/^Use via API$/, "APIで使う"], [/^(\d+\.\d)s$/, "$1秒"], [/^(\d+\.\d)\/(\d+\.\d)s$/, "$1/$2秒"]];
  const ja = (text) => { for (const [re, to] of WORDS) if (re.test(text)) return text.replace(re, to); return null; };
  const fix = (root) => {
    root.querySelectorAll("[aria-label]").forEach((el) => {
      const label = el.getAttribute("aria-label");
      const at = label.indexOf("'s message: ");
      if (at >= 0) {  // Gradio's label is the message's content itself: its plain text instead
        const raw = label.slice(at + 12);
        const text = plain(raw) ?? new DOMParser().parseFromString(raw, "text/html").body.textContent.trim();
        el.setAttribute("aria-label", (label.startsWith("user") ? "質問：" : "回答：") + text);
        return;
      }
      const to = ja(label);
      if (to) el.setAttribute("aria-label", to);
    });
    root.querySelectorAll("[title]").forEach((el) => { const to = ja(el.title); if (to) el.title = to; });
    root.querySelectorAll(".toast-title, .toast-text, .toast-body div").forEach((el) => {
      if (el.children.length === 0) { const to = ja(el.textContent.trim()); if (to) el.textContent = to; }
    });
  };
  const texts = (node) => {  // the status line's words are text nodes Gradio keeps updating in place
    if (node.nodeType === 3) { const to = ja(node.data.trim()); if (to) node.data = to; return; }
    if (node.nodeType !== 1 || node.nodeName === "SCRIPT" || node.nodeName === "STYLE") return;
    const walk = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let t = walk.nextNode(); t; t = walk.nextNode()) { const to = ja(t.data.trim()); if (to) t.data = to; }
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "characterData") texts(r.target);
      r.addedNodes.forEach(texts);
    }
    fix(document.body);
  }).observe(document.documentElement, {subtree: true, childList: true, characterData: true,
    attributes: true, attributeFilter: ["aria-label", "title"]});
})();
