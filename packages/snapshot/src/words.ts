/**
 * The word grammars Kubernetes API validation enforces (k8s.io/apimachinery/pkg/util/validation),
 * re-checked here because a snapshot file never went through an API server. Every grammar is
 * ASCII-only and excludes whitespace, quotes, `\`, `#` and control characters, so a value that
 * passes cannot break an iptables-restore word or comment.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const IANA_SVC_NAME = /^[-a-z0-9]+$/;
const INTERFACE_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/;

/** `IsDNS1123Label`: namespaces, port names. */
export const isDNS1123Label = (s: string): boolean => s.length <= 63 && DNS1123_LABEL.test(s);

/** `IsDNS1035Label`: Service names. */
export const isDNS1035Label = (s: string): boolean => s.length <= 63 && DNS1035_LABEL.test(s);

/** `IsDNS1123Subdomain`: object names, node names. */
export const isDNS1123Subdomain = (s: string): boolean => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);

/** `IsValidPortName` (IANA_SVC_NAME): named targetPorts and container ports. */
export function isIANASvcName(s: string): boolean {
  return (
    s.length >= 1 &&
    s.length <= 15 &&
    IANA_SVC_NAME.test(s) &&
    /[a-z]/.test(s) &&
    !s.includes('--') &&
    !s.startsWith('-') &&
    !s.endsWith('-')
  );
}

/** `IsQualifiedName`: label keys (`[prefix/]name`). */
export function isLabelKey(s: string): boolean {
  const slash = s.indexOf('/');
  const name = slash < 0 ? s : s.slice(slash + 1);
  if (slash >= 0) {
    const prefix = s.slice(0, slash);
    if (prefix.length === 0 || !isDNS1123Subdomain(prefix)) return false;
  }
  return name.length <= 63 && QUALIFIED_NAME_PART.test(name);
}

/** `IsValidLabelValue`: empty, or a qualified-name part. */
export const isLabelValue = (s: string): boolean => s === '' || (s.length <= 63 && QUALIFIED_NAME_PART.test(s));

/**
 * A network interface name or prefix that is one safe iptables word: at most 15 characters (IFNAMSIZ - 1),
 * `[A-Za-z0-9_.-]`, not starting with `-` (it would read as an option), not `.` or `..`.
 */
export const isInterfaceName = (s: string): boolean =>
  s.length >= 1 && s.length <= 15 && INTERFACE_NAME.test(s) && s !== '.' && s !== '..';

export const EXPECT = {
  dns1123Label: "a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)",
  dns1035Label: "a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters)",
  dns1123Subdomain: "a DNS-1123 subdomain (dot-separated DNS-1123 labels, at most 253 characters)",
  ianaSvcName: "an IANA service name (at most 15 lowercase letters, digits and '-', with at least one letter, no '--', not starting or ending with '-')",
  labelKey: "a label key ([prefix/]name: name at most 63 characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit; prefix a DNS-1123 subdomain)",
  labelValue: "a label value (empty, or at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)",
  interfaceName: "an interface name (1 to 15 characters of letters, digits, '_', '.', '-', not starting with '-')",
} as const;

/** Words that print as themselves in diagnostics; anything else is quoted and escaped. */
const PLAIN = /^[A-Za-z0-9._:/-]{1,100}$/;

/** A string as a JSON literal with every non-ASCII and control character escaped: one safe line. */
export function quote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A name as it appears in an object reference: itself when plain, else quoted. */
export const displayName = (s: string): string => (PLAIN.test(s) ? s : quote(s));

/** What a diagnostic says it found: a value shown safely on one line, long strings shortened. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') {
    if (v.length > 80) return `${quote(v.slice(0, 60))}... (${v.length} characters)`;
    return quote(v);
  }
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}
