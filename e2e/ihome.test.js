// SPEC §8's drop-in front end: an iHome-2018-style folder (fixtures/ihome: html/*.html, jQuery
// pages that read X-CSRFToken from document.cookie) served by `api` with `web.static_dir`.
// A visitor with no cookies who opens the register or the sign-in page first succeeds on the
// first try.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const h = require("./lib/harness");

let api;
let browser;
let frontEnd;

before(async () => {
  frontEnd = h.buildFrontEnd("ihome", "js/jquery.min.js");
  api = await h.startApi({ APP__WEB__STATIC_DIR: frontEnd });
  browser = await h.launchBrowser();
});

after(async () => {
  await browser?.close();
  await api?.stop();
  if (frontEnd) fs.rmSync(frontEnd, { recursive: true, force: true });
});

/// The page's own response must set the cookie its first POST reads.
async function assertSetsCsrfCookie(res) {
  assert.equal(res.status(), 200);
  assert.match(res.headers()["content-type"], /^text\/html/);
  assert.match((await res.headerValue("set-cookie")) ?? "", /csrf_token=[0-9a-f]{64}/);
}

const count = (seen, what) => seen.requests.filter((r) => r === what).length;

test("a new visitor opens the register page first and registers", async () => {
  const context = await browser.newContext();
  assert.deepEqual(await context.cookies(), []);
  const page = await context.newPage();
  const seen = h.watch(page, { ignore: ["/favicon.ico"] });

  await assertSetsCsrfCookie(await page.goto(`${api.base}/register.html`));
  await h.waitForCaptcha(page, ".image-code img");

  // A wrong captcha: iHome alerts the errmsg and leaves the image alone, so the errmsg asks the
  // visitor to click it; they do, and try again.
  await page.fill("#mobile", h.TEST_MOBILE);
  await page.fill("#imagecode", "ZZZZ");
  const alerted = page.waitForEvent("dialog");
  await page.click(".phonecode-a");
  assert.match((await alerted).message(), /请点击图片刷新$/);
  const oldSrc = await page.$eval(".image-code img", (img) => img.src);
  await page.click(".image-code img");
  await page.waitForFunction((old) => document.querySelector(".image-code img").src !== old, oldSrc);
  await h.waitForCaptcha(page, ".image-code img");
  await page.fill("#imagecode", h.CAPTCHA_TEXT);
  await page.click(".phonecode-a");
  await h.waitForText(page, ".phonecode-a", "秒");

  await page.fill("#phonecode", h.TEST_CODE);
  await page.fill("#password", "ihome-pass-1");
  await page.fill("#password2", "ihome-pass-1");
  await Promise.all([page.waitForURL(`${api.base}/index.html`), page.click(".form-register button")]);
  await h.waitForText(page, ".user-name", h.TEST_MOBILE);
  assert.ok(await page.isVisible(".top-bar .user-info"));
  assert.ok(!(await page.isVisible(".top-bar .register-login")));

  assert.equal(count(seen, "POST /api/v1.0/users"), 1, "registered on the first try");
  assert.equal(seen.dialogs.length, 1, `only the wrong captcha alerted: ${seen.dialogs}`);
  assert.deepEqual(seen.errors, [], "no script errors");
  assert.deepEqual(seen.failed, [], "no failed requests");
  await context.close();
});

test("a new visitor opens the sign-in page first and signs in on the first try", async () => {
  const context = await browser.newContext();
  assert.deepEqual(await context.cookies(), []);
  const page = await context.newPage();
  const seen = h.watch(page, { ignore: ["/favicon.ico"] });

  await assertSetsCsrfCookie(await page.goto(`${api.base}/login.html`));
  // Nothing but the page and its static files was asked for: the cookie came with the page.
  await page.waitForLoadState("load");
  assert.deepEqual(
    seen.requests.filter((r) => r.includes("/api/")),
    [],
    "the sign-in page calls no API before the form is sent",
  );
  assert.ok(seen.requests.includes("GET /static/js/ihome/login.js"));
  assert.ok(seen.requests.includes("GET /static/css/ihome/main.css"));

  await page.fill("#mobile", h.TEST_MOBILE);
  await page.fill("#password", "ihome-pass-1");
  await Promise.all([page.waitForURL(`${api.base}/`), page.click(".form-login button")]);
  await h.waitForText(page, ".user-name", h.TEST_MOBILE);

  assert.equal(count(seen, "POST /api/v1.0/sessions"), 1, "signed in on the first try");
  assert.deepEqual(seen.dialogs, [], "no alerts");
  assert.deepEqual(seen.errors, [], "no script errors");
  assert.deepEqual(seen.failed, [], "no failed requests");
  await context.close();
});

test("a wrong password shows the errmsg on the sign-in page", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const seen = h.watch(page, { ignore: ["/favicon.ico"] });
  await assertSetsCsrfCookie(await page.goto(`${api.base}/login.html`));
  await page.fill("#mobile", h.TEST_MOBILE);
  await page.fill("#password", "not-the-password");
  await page.click(".form-login button");
  await h.waitForText(page, "#password-err span", "手机号或密码错误");
  assert.ok(await page.isVisible("#password-err"));
  assert.equal(new URL(page.url()).pathname, "/login.html");
  assert.deepEqual(seen.errors, [], "no script errors");
  await context.close();
});
