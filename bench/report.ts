/** One part of the bench's output: what it measured, and which targets it missed. */
export interface Section {
  lines: string[];
  /** Empty when every target of the section was met. */
  failures: string[];
}

export function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

/** The same MongoDB server, another database: each part of the bench starts empty. */
export function databaseUri(uri: string, name: string): string {
  const url = new URL(uri);
  url.pathname = `/${name}`;
  return url.toString();
}
