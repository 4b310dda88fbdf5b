// A minimal XML writer for syncthing's config.xml: elements, attributes, text, all escaped. Pure.

/** One XML element. Attribute order is kept as given. */
export interface XmlElement {
  name: string;
  attrs?: Record<string, string | number | boolean>;
  /** Child elements; ignored when `text` is set. */
  children?: XmlElement[];
  text?: string | number | boolean;
}

// XML 1.0 cannot carry these control characters at all, not even as character references.
const FORBIDDEN_IN_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** Escapes text for use in element content and in double-quoted attributes; unrepresentable characters become U+FFFD. */
export function escapeXml(value: string): string {
  return value
    .replace(FORBIDDEN_IN_XML, '\uFFFD')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** Shorthand for an element with text content. */
export function textElement(name: string, text: string | number | boolean, attrs?: XmlElement['attrs']): XmlElement {
  return attrs === undefined ? { name, text } : { name, text, attrs };
}

function renderAttrs(attrs: XmlElement['attrs']): string {
  return Object.entries(attrs ?? {})
    .map(([key, value]) => ` ${key}="${escapeXml(String(value))}"`)
    .join('');
}

function renderElement(el: XmlElement, depth: number): string {
  const pad = '    '.repeat(depth);
  const open = `${pad}<${el.name}${renderAttrs(el.attrs)}>`;
  if (el.text !== undefined) return `${open}${escapeXml(String(el.text))}</${el.name}>\n`;
  const children = el.children ?? [];
  if (children.length === 0) return `${open}</${el.name}>\n`;
  return `${open}\n${children.map((c) => renderElement(c, depth + 1)).join('')}${pad}</${el.name}>\n`;
}

/** The document for `root`, indented with four spaces like syncthing's own config.xml, ending in a newline. */
export function renderXml(root: XmlElement): string {
  return renderElement(root, 0);
}
