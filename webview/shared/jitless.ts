// Imported first by each webview's main.ts: the webview's CSP has no 'unsafe-eval', so zod must not probe for it
// (zod 4 tries `new Function` when its first object schema is built; the browser reports that as a
// CSP violation). Schemas are built when protocol.ts is evaluated, hence a module of its own.
import { z } from 'zod';

z.config({ jitless: true });
