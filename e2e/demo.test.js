// The demo page at `/`, driven in headless Chromium: captcha, SMS code, registration, sign-out
// and sign-in, all through the page's own form controls.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const os = require("node:os");
const path = require("node:path");
const h = require("./lib/harness");

// Screenshots to look at: the page signed in, and the registration form after a code was sent.
const SCREENSHOT = process.env.YZ_E2E_SCREENSHOT || path.join(os.tmpdir(), "e2e-demo.png");
const FORM_SCREENSHOT = SCREENSHOT.replace(/\.png$/, "-form.png");

let api;
let browser;

before(async () => {
  api = await h.startApi();
  browser = await h.launchBrowser();
});

after(async () => {
  await browser?.close();
  await api?.stop();
});

test("the demo page registers, signs out and signs in", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const seen = h.watch(page);

  const res = await page.goto(`${api.base}/`);
  assert.equal(res.status(), 200);
  assert.match((await res.headerValue("set-cookie")) ?? "", /csrf_token=[0-9a-f]{64}/);
  await h.waitForText(page, "#who", "未登录");
  await h.waitForCaptcha(page, "#captcha");

  // A wrong captcha is refused, and the page draws a new one.
  const firstCaptcha = await page.$eval("#captcha", (img) => img.src);
  await page.fill("#reg-mobile", h.TEST_MOBILE);
  await page.fill("#image-code", "ZZZZ");
  await page.click("#send-code");
  await h.waitForText(page, "#register-msg", "请点击图片刷新");
  assert.equal(await page.$eval("#register-msg", (el) => el.className), "msg error");
  await page.waitForFunction((old) => document.getElementById("captcha").src !== old, firstCaptcha);
  await h.waitForCaptcha(page, "#captcha");

  // The right one (in lower case: captchas compare case-insensitively) sends the code.
  await page.fill("#image-code", h.CAPTCHA_TEXT.toLowerCase());
  await page.click("#send-code");
  await h.waitForText(page, "#register-msg", "发送成功");
  assert.equal(await page.$eval("#register-msg", (el) => el.className), "msg ok");
  // The button waits out the 60 s cooldown.
  await h.waitForText(page, "#send-code", "秒后重发");
  assert.ok(await page.isDisabled("#send-code"));
  await page.screenshot({ path: FORM_SCREENSHOT, fullPage: true });

  await page.fill("#sms-code", h.TEST_CODE);
  await page.fill("#reg-password", "secret-pass-1");
  await page.fill("#reg-password2", "secret-pass-1");
  await page.click("#register");
  await h.waitForText(page, "#register-msg", "注册成功");
  await h.waitForText(page, "#who", `已登录：${h.TEST_MOBILE}`);
  assert.ok(await page.isVisible("#logout"));
  assert.ok(!(await page.isVisible("#register-form")), "signed in: no forms");
  assert.ok(!(await page.isVisible("#login-form")));
  const session = (await context.cookies()).find((c) => c.name === "session");
  assert.ok(session && session.httpOnly, "registration set an HttpOnly session cookie");

  await page.click("#logout");
  await h.waitForText(page, "#who", "未登录");
  assert.ok(!(await page.isVisible("#logout")));
  assert.ok(await page.isVisible("#login-form"));

  // A wrong password first, then the right one.
  await h.passwordSignIn(page, h.TEST_MOBILE, "wrong-pass", "secret-pass-1");

  // Still signed in after a reload: the session lives in the cookie, not the page.
  await page.reload();
  await h.waitForText(page, "#who", `已登录：${h.TEST_MOBILE}`);
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  assert.deepEqual(seen.errors, [], "no script errors");
  assert.deepEqual(seen.dialogs, [], "no alerts");
  assert.deepEqual(seen.failed, [], "no failed requests");
  await context.close();
});
