/** The console's client-side routes: the API answers each with index.html (api/console.ts). */
export const CONSOLE_PAGES = [
  '/',
  '/login',
  '/setup',
  '/setup/*',
  '/test',
  '/logs',
  '/logs/*',
  '/knowledge',
  '/education',
  '/join/:code',
  '/listen/:token',
] as const;
