/** Escapes text for HTML element content and attribute values. */
export const escapeHtml = (value: unknown): string =>
  String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** A value already escaped, or built from escaped parts. */
export class Html {
  constructor(readonly text: string) {}
  toString() {
    return this.text;
  }
}

/** Tagged template that escapes every interpolation unless it is Html (or an array of Html). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    const parts = Array.isArray(value) ? value : [value];
    out += parts.map((part) => (part instanceof Html ? part.text : escapeHtml(part))).join("");
    out += strings[i + 1]!;
  });
  return new Html(out);
}

const styles = `
:root{color-scheme:light dark;--accent:#4d5bce;--muted:#6b7280;--bad:#b42318;--good:#067647}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:Canvas;color:CanvasText}
main{max-width:34rem;margin:0 auto;padding:2rem 1.25rem 3rem}
h1{font-size:1.6rem;line-height:1.25;margin:0 0 .75rem}
p,ul,dl{margin:.5rem 0 1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
.hint{display:block;font-weight:400;color:var(--muted);font-size:.875rem}
label+.hint{margin:-.25rem 0 .25rem}
input[type=text],input[type=email],input[type=password]{width:100%;font:inherit;padding:.6rem .7rem;border:1px solid var(--muted);border-radius:.4rem;background:Field;color:FieldText}
input:focus-visible,button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.check{display:flex;gap:.5rem;align-items:flex-start;font-weight:400}
.check input{margin-top:.3rem}
button{margin-top:1.5rem;width:100%;font:inherit;font-weight:600;padding:.75rem;border:0;border-radius:.4rem;background:var(--accent);color:#fff;cursor:pointer}
.error{border-left:4px solid var(--bad);padding:.5rem .75rem;background:color-mix(in srgb,var(--bad) 10%,Canvas)}
.ok{border-left:4px solid var(--good);padding:.5rem .75rem;background:color-mix(in srgb,var(--good) 10%,Canvas)}
footer{margin-top:2.5rem;color:var(--muted);font-size:.8rem}
`;

/** The one page frame: readable on a phone, no external assets. */
export function page(title: string, body: Html): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)} · agent-onboard</title>
<style>${styles}</style>
</head>
<body>
<main>
${body.text}
<footer>agent-onboard</footer>
</main>
</body>
</html>
`;
}
