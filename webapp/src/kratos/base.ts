/** Kratos's public API on this origin; the proxy (or nginx) strips the prefix. */
export const kratosBase = "/.ory/kratos/public";
