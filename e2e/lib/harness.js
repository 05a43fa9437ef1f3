// Shared plumbing for the end-to-end tests: start the real `api` binary on a free port with the
// test hooks, launch Debian's Chromium through playwright-core, a few waiting helpers, and the
// demo page's password sign-in.
"use strict";

const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const assert = require("node:assert/strict");
const { chromium } = require("playwright-core");

const REPO = path.resolve(__dirname, "..", "..");
const CHROMIUM = process.env.YZ_CHROMIUM || "/usr/bin/chromium";

/// The test hooks of the embedded default: every captcha shows ABCD, and 13800138000 always
/// gets the code 123456 (no SMS is sent for it).
const CAPTCHA_TEXT = "ABCD";
const TEST_MOBILE = "13800138000";
const TEST_CODE = "123456";

/// The api binary: $YZ_API_BIN, or target/debug/api of the workspace's target directory (which
/// `cargo metadata` reports, honouring CARGO_TARGET_DIR).
function apiBinary() {
  if (process.env.YZ_API_BIN) return process.env.YZ_API_BIN;
  const meta = JSON.parse(
    execFileSync("cargo", ["metadata", "--format-version", "1", "--no-deps"], {
      cwd: REPO,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    }),
  );
  const bin = path.join(meta.target_directory, "debug", "api");
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} is missing: run \`cargo build -p api\` first (or set YZ_API_BIN)`);
  }
  return bin;
}

function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/// A copy of fixtures/<name> in a folder of its own, plus jQuery (from the npm package) at
/// `jqueryAt` inside it, where the fixture's pages load it from. Returns the folder.
function buildFrontEnd(name, jqueryAt) {
  const dir = tempDir(`yz-e2e-${name}-`);
  fs.cpSync(path.join(__dirname, "..", "fixtures", name), dir, { recursive: true });
  fs.copyFileSync(require.resolve("jquery/dist/jquery.min.js"), path.join(dir, jqueryAt));
  return dir;
}

const ANSI = /\x1b\[[0-9;]*m/g;

/// Start `api` on a free port in a fresh folder (its own SQLite file, no config/ files), with
/// the test hooks and `extraEnv`. Resolves to { base, stop(), log() } once it listens.
async function startApi(extraEnv = {}) {
  const dir = tempDir("yz-e2e-api-");
  const env = {
    ...process.env,
    APP_ENVIRONMENT: "local",
    APP__SERVER__HOST: "127.0.0.1",
    APP__SERVER__PORT: "0",
    APP__SERVER__WORKERS: "2",
    APP__DATABASE__URL: `sqlite://${path.join(dir, "e2e.db")}`,
    APP__STORE__URL: "memory://",
    APP__SMS__PROVIDER: "console",
    APP__TESTING__CAPTCHA_TEXT: CAPTCHA_TEXT,
    [`APP__TESTING__SMS_CODES__${TEST_MOBILE}`]: TEST_CODE,
    APP__LOG__FORMAT: "json",
    NO_COLOR: "1",
    RUST_LOG: "info,actix_server=warn",
    ...extraEnv,
  };
  const child = spawn(apiBinary(), [], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let stopped = false;
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  // Never leave a server behind, even when the test process dies half-way.
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);
  exited.then(() => process.removeListener("exit", onExit));

  const port = await new Promise((resolve, reject) => {
    const seen = (chunk) => {
      output += chunk.toString("utf8");
      const m = output.replace(ANSI, "").match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on("data", seen);
    child.stderr.on("data", seen);
    exited.then(({ code, signal }) =>
      reject(new Error(`api exited (code ${code}, signal ${signal}) before listening:\n${output}`)),
    );
    setTimeout(() => reject(new Error(`api did not log its port within 60 s:\n${output}`)), 60_000).unref();
  }).catch(async (e) => {
    await stop();
    throw e;
  });
  return { base: `http://127.0.0.1:${port}`, stop, log: () => output };
}

/// Debian's Chromium, headless. playwright-core downloads no browser; it runs this one with a
/// fresh profile folder of its own (every `browser.newContext()` then starts with no cookies).
async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 60_000,
  });
}

/// Record what a page does that a test should fail on: uncaught script errors, alert() dialogs
/// (the iHome pages report errors that way; they are dismissed) and failed requests.
function watch(page, { ignore = [] } = {}) {
  const seen = { errors: [], dialogs: [], failed: [], requests: [] };
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  page.on("dialog", async (d) => {
    seen.dialogs.push(d.message());
    await d.dismiss().catch(() => {});
  });
  page.on("request", (r) => seen.requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  page.on("requestfailed", (r) => seen.failed.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    const p = new URL(r.url()).pathname;
    if (r.status() >= 400 && !ignore.includes(p)) seen.failed.push(`${r.url()} HTTP ${r.status()}`);
  });
  return seen;
}

/// Wait until `selector`'s text contains `text`; on timeout, say what it showed instead.
async function waitForText(page, selector, text, timeout = 15_000) {
  try {
    await page.waitForFunction(
      ([sel, want]) => {
        const el = document.querySelector(sel);
        return el !== null && el.textContent.includes(want);
      },
      [selector, text],
      { timeout },
    );
  } catch (e) {
    const shown = await page
      .$eval(selector, (el) => el.textContent)
      .catch(() => "(no such element)");
    throw new Error(`${selector} never showed ${JSON.stringify(text)}; it shows ${JSON.stringify(shown)}`);
  }
}

/// Wait until the captcha <img> has loaded a real image: only then does the server hold its text.
async function waitForCaptcha(page, selector) {
  await page.waitForFunction(
    (sel) => {
      const img = document.querySelector(sel);
      return img !== null && img.src !== "" && img.complete && img.naturalWidth > 0;
    },
    selector,
    { timeout: 15_000 },
  );
}

/// A JSON request to the api from the test itself (no browser): resolves to the errno envelope.
/// `token` becomes `Authorization: Bearer <token>`; `userAgent`, the `User-Agent` (the session
/// list shows it).
async function apiCall(base, method, path, { body, token, userAgent } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (userAgent) headers["User-Agent"] = userAgent;
  const res = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status}`);
  return res.json();
}

/// The answer to `GET /api/v1.0/session` when the caller is not signed in.
const NOT_SIGNED_IN = { errno: "4101", errmsg: "false" };

/// `GET /api/v1.0/session` asked by the test with the browser context's cookies (the server's
/// word, whatever the page shows). `base` defaults to the origin of the context's first page.
async function browserSession(context, base) {
  base ??= new URL(context.pages()[0].url()).origin;
  const res = await context.request.get(`${base}/api/v1.0/session`);
  return res.json();
}

/// The page's next `GET /api/v1.0/session` (the demo page asks after every form it submits,
/// then redraws #who from the answer): resolves to that answer. Call it before the click.
function nextSessionCheck(page) {
  return page
    .waitForResponse(
      (r) => r.request().method() === "GET" && new URL(r.url()).pathname === "/api/v1.0/session",
      { timeout: 15_000 },
    )
    .then((r) => r.json());
}

/// On the demo page's password tab, signed out: `wrong` is refused (the page says so, asked the
/// server again and still shows 未登录, and the server agrees), then `right` signs `mobile` in.
async function passwordSignIn(page, mobile, wrong, right) {
  await page.fill("#login-mobile", mobile);
  await page.fill("#login-password", wrong);
  const checked = nextSessionCheck(page);
  await page.click("#login");
  await waitForText(page, "#login-msg", "手机号或密码错误");
  await waitForText(page, "#who", "未登录");
  assert.deepEqual(await checked, NOT_SIGNED_IN, "the page's own check after the refusal");
  assert.deepEqual(await browserSession(page.context()), NOT_SIGNED_IN);
  await page.fill("#login-password", right);
  await page.click("#login");
  await waitForText(page, "#login-msg", "登录成功");
  await waitForText(page, "#who", `已登录：${mobile}`);
}

/// Register `mobile` (a test number whose code is `code`) the way an app does: captcha, code,
/// then `POST /users` with `"client": "app"` (no cookie, no CSRF token). Resolves to the app's
/// bearer token.
async function registerByApi(base, mobile, code, password) {
  const captchaId = `e2e-${crypto.randomUUID()}`;
  const image = await fetch(`${base}/api/v1.0/image_codes/${captchaId}`);
  if (image.headers.get("content-type") !== "image/png") {
    throw new Error(`no captcha: ${await image.text()}`);
  }
  const sent = await apiCall(base, "POST", "/api/v1.0/sms_codes", {
    body: { mobile, image_code: CAPTCHA_TEXT, image_code_id: captchaId },
  });
  if (sent.errno !== "0") throw new Error(`send: ${JSON.stringify(sent)}`);
  const r = await apiCall(base, "POST", "/api/v1.0/users", {
    body: { mobile, sms_code: code, password, password2: password, client: "app" },
  });
  if (r.errno !== "0" || !r.data?.token) throw new Error(`register: ${JSON.stringify(r)}`);
  return r.data.token;
}

module.exports = {
  CAPTCHA_TEXT,
  TEST_MOBILE,
  TEST_CODE,
  REPO,
  startApi,
  launchBrowser,
  tempDir,
  buildFrontEnd,
  watch,
  waitForText,
  waitForCaptcha,
  apiCall,
  registerByApi,
  NOT_SIGNED_IN,
  browserSession,
  nextSessionCheck,
  passwordSignIn,
};
