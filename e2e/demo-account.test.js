// The demo page at `/`, driven in headless Chromium: signing in with an SMS code and resetting a
// forgotten password (SPEC §5a), through the page's own tabs and form controls. The users are
// registered the way an app does (`"client": "app"`), so each test also sees what the page does
// to that app's token.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const os = require("node:os");
const path = require("node:path");
const h = require("./lib/harness");

// A screenshot to look at: the page signed in by code, with its list of sessions.
const SCREENSHOT = (process.env.YZ_E2E_SCREENSHOT || path.join(os.tmpdir(), "e2e-demo.png")).replace(
  /\.png$/,
  "-sessions.png",
);

// A second test number for the reset, so that each test has a user of its own.
const RESET_MOBILE = "13900139000";
const RESET_CODE = "654321";
const WRONG_CODE = "000000";

let api;
let browser;

before(async () => {
  api = await h.startApi({
    [`APP__TESTING__SMS_CODES__${RESET_MOBILE}`]: RESET_CODE,
    // Each user gets a register code and then a login or reset code within a second: the
    // per-mobile cooldown (one for every purpose) would refuse the second.
    APP__LIMITS__MOBILE_COOLDOWN_SECS: "0",
  });
  browser = await h.launchBrowser();
});

after(async () => {
  await browser?.close();
  await api?.stop();
});

/// `GET /api/v1.0/session` as the browser context (its cookies) sees it.
function browserSession(context) {
  return h.browserSession(context, api.base);
}

/// `GET /api/v1.0/session` as the app holding `token` sees it (no browser, no cookies).
function appSession(token) {
  return h.apiCall(api.base, "GET", "/api/v1.0/session", { token });
}

const NOT_SIGNED_IN = h.NOT_SIGNED_IN;

test("the demo page signs in with an SMS code, lists the sessions and signs out everywhere", async () => {
  const appToken = await h.registerByApi(api.base, h.TEST_MOBILE, h.TEST_CODE, "code-pass-1");

  const context = await browser.newContext();
  const page = await context.newPage();
  const seen = h.watch(page);
  await page.goto(`${api.base}/`);
  await h.waitForText(page, "#who", "未登录");

  // The code tab draws its captcha when it opens.
  await page.click("#tab-code");
  assert.ok(await page.isVisible("#code-login-form"));
  assert.ok(!(await page.isVisible("#login-form")));
  await h.waitForCaptcha(page, "#code-login-captcha");
  await page.fill("#code-login-mobile", h.TEST_MOBILE);
  await page.fill("#code-login-image-code", h.CAPTCHA_TEXT);
  await page.click("#code-login-send");
  await h.waitForText(page, "#code-login-msg", "发送成功");
  assert.equal(await page.$eval("#code-login-msg", (el) => el.className), "msg ok");
  await h.waitForText(page, "#code-login-send", "秒后重发");
  const send = seen.requests.filter((r) => r === "POST /api/v1.0/sms_codes");
  assert.equal(send.length, 1);

  // A wrong code: DATAERR, shown as the page shows every errmsg; still signed out.
  await page.fill("#code-login-sms-code", WRONG_CODE);
  const checkedAfterWrongCode = h.nextSessionCheck(page);
  await page.click("#code-login");
  await h.waitForText(page, "#code-login-msg", "短信验证码错误");
  assert.equal(await page.$eval("#code-login-msg", (el) => el.className), "msg error");
  await h.waitForText(page, "#who", "未登录");
  assert.deepEqual(await checkedAfterWrongCode, NOT_SIGNED_IN, "the page's own check after the refusal");
  assert.deepEqual(await browserSession(context), NOT_SIGNED_IN);

  // The right one signs in (the same code: a wrong guess used one attempt, not the code).
  await page.fill("#code-login-sms-code", h.TEST_CODE);
  await page.click("#code-login");
  await h.waitForText(page, "#code-login-msg", "登录成功");
  await h.waitForText(page, "#who", `已登录：${h.TEST_MOBILE}`);
  assert.ok(!(await page.isVisible("#sign-in")), "signed in: no sign-in forms");
  assert.ok(!(await page.isVisible("#register-form")));
  const session = (await context.cookies()).find((c) => c.name === "session");
  assert.ok(session && session.httpOnly, "the code sign-in set an HttpOnly session cookie");
  const now = await browserSession(context);
  assert.equal(now.errno, "0");
  assert.equal(now.errmsg, "true");
  assert.equal(now.data.name, h.TEST_MOBILE);

  // My sessions: the app's token from the registration, then this browser, oldest first.
  await page.waitForSelector("#session-list li:nth-child(2)");
  const listed = await page.$$eval("#session-list li", (els) =>
    els.map((li) => ({ kind: li.dataset.kind, text: li.textContent })),
  );
  assert.deepEqual(
    listed.map((s) => s.kind),
    ["app", "cookie"],
  );
  assert.match(listed[1].text, /当前/);
  assert.ok(!listed.some((s) => s.text.includes(appToken)), "no token is ever shown");
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // Sign out one: a second app signs in with the password; after a reload the list shows it
  // (by the User-Agent it sent), and its row's 退出 ends that token only.
  const SECOND_APP = "yz-e2e-second-app/1.0";
  const second = await h.apiCall(api.base, "POST", "/api/v1.0/sessions", {
    body: { mobile: h.TEST_MOBILE, password: "code-pass-1", client: "app" },
    userAgent: SECOND_APP,
  });
  assert.equal(second.errno, "0", JSON.stringify(second));
  const secondToken = second.data.token;
  assert.ok(secondToken && secondToken !== appToken);
  assert.equal((await appSession(secondToken)).errno, "0");
  await page.reload();
  await h.waitForText(page, "#who", `已登录：${h.TEST_MOBILE}`);
  await page.waitForSelector("#session-list li:nth-child(3)");
  const three = await page.$$eval("#session-list li", (els) =>
    els.map((li) => ({ kind: li.dataset.kind, text: li.textContent })),
  );
  assert.deepEqual(three.map((s) => s.kind).sort(), ["app", "app", "cookie"]);
  const secondRows = three.filter((s) => s.text.includes(SECOND_APP));
  assert.equal(secondRows.length, 1, JSON.stringify(three));
  assert.equal(secondRows[0].kind, "app");
  assert.ok(!three.some((s) => s.text.includes(secondToken)), "no token is ever shown");
  const deleted = page.waitForResponse(
    (r) => r.request().method() === "DELETE" && /^\/api\/v1\.0\/user\/sessions\/[0-9a-f]{32}$/.test(new URL(r.url()).pathname),
  );
  await page.click(`#session-list li[data-kind="app"]:has-text("${SECOND_APP}") button:has-text("退出")`);
  assert.equal((await (await deleted).json()).errno, "0");
  await h.waitForText(page, "#sessions-msg", "已结束该会话");
  await page.waitForFunction(() => document.querySelectorAll("#session-list li").length === 2);
  const left = await page.$$eval("#session-list li", (els) =>
    els.map((li) => ({ kind: li.dataset.kind, text: li.textContent })),
  );
  assert.deepEqual(
    left.map((s) => s.kind),
    ["app", "cookie"],
  );
  assert.ok(!left.some((s) => s.text.includes(SECOND_APP)), "the second app's row is gone");
  assert.deepEqual(await appSession(secondToken), NOT_SIGNED_IN, "its token ended");
  assert.equal((await appSession(appToken)).errno, "0", "the first app's token still works");
  assert.equal((await browserSession(context)).errno, "0", "the browser is still signed in");
  await h.waitForText(page, "#who", `已登录：${h.TEST_MOBILE}`);

  // Sign out everywhere: this browser and the app.
  await page.click("#logout-everywhere");
  await h.waitForText(page, "#who", "未登录");
  assert.ok(await page.isVisible("#login-form"), "back on the password tab");
  assert.deepEqual(await browserSession(context), NOT_SIGNED_IN);
  assert.deepEqual(await appSession(appToken), NOT_SIGNED_IN);

  assert.deepEqual(seen.errors, [], "no script errors");
  assert.deepEqual(seen.dialogs, [], "no alerts");
  assert.deepEqual(seen.failed, [], "no failed requests");
  await context.close();
});

test("the demo page resets a forgotten password with an SMS code", async () => {
  const appToken = await h.registerByApi(api.base, RESET_MOBILE, RESET_CODE, "old-pass-1");

  const context = await browser.newContext();
  const page = await context.newPage();
  const seen = h.watch(page);
  await page.goto(`${api.base}/`);
  await h.waitForText(page, "#who", "未登录");

  // The number typed on the password tab carries over to the reset tab.
  await page.fill("#login-mobile", RESET_MOBILE);
  await page.click("#tab-reset");
  assert.ok(await page.isVisible("#reset-form"));
  assert.equal(await page.inputValue("#reset-mobile"), RESET_MOBILE);
  await h.waitForCaptcha(page, "#reset-captcha");
  await page.fill("#reset-image-code", h.CAPTCHA_TEXT.toLowerCase());
  await page.click("#reset-send");
  await h.waitForText(page, "#reset-msg", "发送成功");
  assert.equal(await page.$eval("#reset-msg", (el) => el.className), "msg ok");

  // A wrong code: DATAERR, nothing changes (the app is still signed in).
  await page.fill("#reset-sms-code", WRONG_CODE);
  await page.fill("#reset-password", "new-pass-2");
  await page.fill("#reset-password2", "new-pass-2");
  const checkedAfterWrongCode = h.nextSessionCheck(page);
  await page.click("#reset-submit");
  await h.waitForText(page, "#reset-msg", "短信验证码错误");
  assert.equal(await page.$eval("#reset-msg", (el) => el.className), "msg error");
  await h.waitForText(page, "#who", "未登录");
  assert.deepEqual(await checkedAfterWrongCode, NOT_SIGNED_IN, "the page's own check after the refusal");
  assert.deepEqual(await browserSession(context), NOT_SIGNED_IN, "a failed reset signs no one in");
  const stillIn = await appSession(appToken);
  assert.equal(stillIn.errno, "0", "a failed reset ends no session");

  // The right code resets the password and signs this browser in.
  await page.fill("#reset-sms-code", RESET_CODE);
  await page.click("#reset-submit");
  await h.waitForText(page, "#reset-msg", "密码已重置");
  await h.waitForText(page, "#who", `已登录：${RESET_MOBILE}`);
  const now = await browserSession(context);
  assert.equal(now.errno, "0");
  assert.equal(now.data.name, RESET_MOBILE);
  // Every earlier session of the user ended: the app's token is dead.
  assert.deepEqual(await appSession(appToken), NOT_SIGNED_IN);
  await page.waitForSelector("#session-list li");
  assert.deepEqual(
    await page.$$eval("#session-list li", (els) => els.map((li) => li.dataset.kind)),
    ["cookie"],
  );

  // Signed out, the old password no longer signs in; the new one does.
  await page.click("#logout");
  await h.waitForText(page, "#who", "未登录");
  assert.ok(await page.isVisible("#login-form"));
  await h.passwordSignIn(page, RESET_MOBILE, "old-pass-1", "new-pass-2");

  assert.deepEqual(seen.errors, [], "no script errors");
  assert.deepEqual(seen.dialogs, [], "no alerts");
  assert.deepEqual(seen.failed, [], "no failed requests");
  await context.close();
});
