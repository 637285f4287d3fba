// A stand-in for a pod of the original mehdb 0.6 (the tutorial's image), for
// the rolling-upgrade test: a small fixture of ours, not the original. It
// serves exactly what /work/shared/ORIGINAL_API.md ("Keep") says the
// original serves, from its data directory in the original's layout
// (MEHDB_DATADIR/<key>/content, "On disk"):
//   GET /keys            200, compact JSON array of the keys sorted byte-wise, "\n"
//   GET /get/{key}       200 and the raw bytes; missing: 404, body "\n"
//   GET /status          200 "leader" / "follower"; ?level=full: the key count + "\n"
//   PUT /set/{key}       leader: 200 "WRITE completed" (truncate, then write);
//                        follower: 307 to <leader>/set/{key}, empty body
//   keys outside [a-z]+, unknown paths: 404 "404 page not found\n"
//   a known path with another method: 405
// A key exists when its directory holds a `content` file; names starting
// with '.' are skipped. The role comes from the hostname (mehdb-0 leads) as
// in the original. Unlike the original's followers it copies nothing from
// the leader: a follower serves what its volume holds.
// Usage: node original-standin.mjs --bind=<address> (MEHDB_DATADIR, MEHDB_PORT,
// MEHDB_NAMESPACE from the environment; the original binds every address).
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";

const datadir = process.env.MEHDB_DATADIR ?? "./data";
const port = Number(process.env.MEHDB_PORT ?? 9876);
const bind = (process.argv.find((a) => a.startsWith("--bind=")) ?? "--bind=0.0.0.0").slice(7);
const host = process.env.MEHDB_HOST ?? os.hostname();
const leader = host === "mehdb-0";
const leaderUrl = `http://mehdb-0.mehdb.${process.env.MEHDB_NAMESPACE ?? "default"}:${port}`;
const TEXT = "text/plain; charset=utf-8";

const isKey = (k) => /^[a-z]+$/.test(k);
function keys() {
  return fs.readdirSync(datadir)
    .filter((n) => !n.startsWith(".") && fs.existsSync(path.join(datadir, n, "content")))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
function answer(res, status, body = "", type = TEXT, headers = {}) {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const url = new URL(req.url, "http://x");
    let p;
    try { p = decodeURIComponent(url.pathname); } catch { return answer(res, 404, "404 page not found\n"); }
    const m = /^\/(get|set)\/([^/]*)$/.exec(p);
    const route = p === "/keys" || p === "/status" ? p : m && isKey(m[2]) ? m[1] : null;
    if (!route) return answer(res, 404, "404 page not found\n");
    const want = route === "set" ? "PUT" : "GET";
    if (req.method !== want) return answer(res, 405);
    if (route === "/keys") return answer(res, 200, JSON.stringify(keys()) + "\n");
    if (route === "/status") {
      if (url.searchParams.get("level") === "full") return answer(res, 200, `${keys().length}\n`);
      return answer(res, 200, leader ? "leader" : "follower");
    }
    const file = path.join(datadir, m[2], "content");
    if (route === "get") {
      if (!fs.existsSync(file)) return answer(res, 404, "\n");
      return answer(res, 200, fs.readFileSync(file), "application/octet-stream");
    }
    if (!leader) return answer(res, 307, "", TEXT, { Location: `${leaderUrl}/set/${m[2]}` });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.concat(chunks));
    return answer(res, 200, "WRITE completed");
  });
});
server.listen(port, bind);
process.on("SIGTERM", () => process.exit(0));
