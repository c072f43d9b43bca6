/** Where the local proxy listens: "HOST:PORT", where port 0 means "any free port". */
export const parseListen = (text: string): { host: string; port: number } | undefined => {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  if (!match?.[1] || !match[2]) return undefined;
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
};
