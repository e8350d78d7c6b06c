import { Miniflare } from 'miniflare';
const mf = new Miniflare({ modules: true, script: 'export default {}', compatibilityDate: '2026-04-26', d1Databases: ['DB'] });
const db = await mf.getD1Database('DB');
const r = await db.prepare("SELECT atan2(-0.0,-1) a, printf('%f|%e|%g|%!.3e', -0.0,-0.0,-0.0,-0.0) b, CAST(-0.0 AS TEXT) c, quote(-0.0) d").all();
console.log(JSON.stringify(r.results));
await mf.dispose();
