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
input[type=text],input[type=email],input[type=password],input[type=url],input[type=date]{width:100%;font:inherit;padding:.6rem .7rem;border:1px solid var(--muted);border-radius:.4rem;background:Field;color:FieldText}
input:focus-visible,button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.check{display:flex;gap:.5rem;align-items:flex-start;font-weight:400}
.check input{margin-top:.3rem}
button{margin-top:1.5rem;width:100%;font:inherit;font-weight:600;padding:.75rem;border:0;border-radius:.4rem;background:var(--accent);color:#fff;cursor:pointer}
.error{border-left:4px solid var(--bad);padding:.5rem .75rem;background:color-mix(in srgb,var(--bad) 10%,Canvas)}
.ok{border-left:4px solid var(--good);padding:.5rem .75rem;background:color-mix(in srgb,var(--good) 10%,Canvas)}
footer{margin-top:2.5rem;color:var(--muted);font-size:.8rem}
main.wide{max-width:60rem}
a{color:var(--accent)}
a.button{display:inline-block;margin-top:.5rem;padding:.6rem 1rem;border-radius:.4rem;background:var(--accent);color:#fff;font-weight:600;text-decoration:none}
nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center;margin:0 0 1.5rem;padding-bottom:.75rem;border-bottom:1px solid color-mix(in srgb,var(--muted) 40%,Canvas)}
nav form{margin:0 0 0 auto}nav button{margin:0;width:auto;padding:.35rem .8rem;background:transparent;color:var(--accent);border:1px solid var(--accent)}
nav a[aria-current=page]{font-weight:700;text-decoration:none;color:CanvasText}
h2{font-size:1.2rem;margin:2rem 0 .5rem}
.table{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid color-mix(in srgb,var(--muted) 30%,Canvas);vertical-align:top}
th{color:var(--muted);font-weight:600}
td form{margin:0 0 .25rem}td button{margin:0;width:auto;padding:.3rem .7rem;font-size:.875rem}
button.danger{background:var(--bad)}fieldset{border:1px solid var(--muted);border-radius:.4rem;margin:1rem 0 0;padding:.5rem 1rem}legend{font-weight:600;padding:0 .25rem}button.secondary{background:transparent;color:var(--accent);border:1px solid var(--accent)}
.secret{display:block;padding:.6rem;border:1px dashed var(--muted);border-radius:.4rem;overflow-wrap:anywhere;font-family:ui-monospace,monospace;font-size:.875rem}
.empty{color:var(--muted)}
form.inline{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}
form.inline label{margin:0}form.inline button{width:auto;margin:0}
nav.pages{border:0;margin:1rem 0}
select{font:inherit;padding:.55rem;border:1px solid var(--muted);border-radius:.4rem;background:Field;color:FieldText}
`;

/** The one page frame: readable on a phone, no external assets. */
export function page(title: string, body: Html, options: { wide?: boolean } = {}): string {
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
<main${options.wide ? ' class="wide"' : ""}>
${body.text}
<footer>agent-onboard</footer>
</main>
</body>
</html>
`;
}
