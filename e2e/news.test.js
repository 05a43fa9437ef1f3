// The news site (新经资讯) front end of SPEC §7: a front page with a login/register box posting
// to the /passport routes (fixtures/news, jQuery), served by `api` with `web.static_dir`.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const h = require("./lib/harness");

let api;
let browser;
let frontEnd;

before(async () => {
  frontEnd = h.buildFrontEnd("news", "news/js/jquery-1.12.4.min.js");
  api = await h.startApi({ APP__WEB__STATIC_DIR: frontEnd });
  browser = await h.launchBrowser();
});

after(async () => {
  await browser?.close();
  await api?.stop();
  if (frontEnd) fs.rmSync(frontEnd, { recursive: true, force: true });
});

const count = (seen, what) => seen.requests.filter((r) => r === what).length;

test("a new visitor registers from the news front page, signs out and signs in", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const seen = h.watch(page, { ignore: ["/favicon.ico"] });

  const res = await page.goto(`${api.base}/`);
  assert.equal(res.status(), 200);
  assert.match((await res.headerValue("set-cookie")) ?? "", /csrf_token=[0-9a-f]{64}/);
  await page.waitForSelector(".user_btns", { state: "visible" });

  await page.click(".register_btn");
  await h.waitForCaptcha(page, ".get_pic_code");
  await page.fill("#register_mobile", h.TEST_MOBILE);
  // A wrong captcha: the page shows the errmsg and, on DATAERR, draws a new image itself.
  await page.fill("#imagecode", "ZZZZ");
  const oldSrc = await page.$eval(".get_pic_code", (img) => img.src);
  await page.click(".get_code");
  await h.waitForText(page, "#register-sms-code-err", "请点击图片刷新");
  await page.waitForFunction((old) => document.querySelector(".get_pic_code").src !== old, oldSrc);
  await h.waitForCaptcha(page, ".get_pic_code");
  await page.fill("#imagecode", h.CAPTCHA_TEXT);
  await page.click(".get_code");
  await h.waitForText(page, ".get_code", "秒");

  await page.fill("#smscode", h.TEST_CODE);
  await page.fill("#register_password", "news-pass-1");
  await Promise.all([page.waitForEvent("load"), page.click(".register_form .input_sub")]);
  await h.waitForText(page, ".user_login .user_name", h.TEST_MOBILE);
  assert.ok(!(await page.isVisible(".user_btns")));

  await Promise.all([page.waitForEvent("load"), page.click(".logout")]);
  await page.waitForSelector(".user_btns", { state: "visible" });

  await page.click(".login_btn");
  await page.fill(".login_form #mobile", h.TEST_MOBILE);
  await page.fill(".login_form #password", "news-pass-1");
  await Promise.all([page.waitForEvent("load"), page.click(".login_form .input_sub")]);
  await h.waitForText(page, ".user_login .user_name", h.TEST_MOBILE);

  assert.equal(count(seen, "POST /passport/register"), 1, "registered on the first try");
  assert.equal(count(seen, "GET /passport/logout"), 1);
  assert.equal(count(seen, "POST /passport/login"), 1, "signed in on the first try");
  assert.deepEqual(seen.dialogs, [], "no alerts");
  assert.deepEqual(seen.errors, [], "no script errors");
  assert.deepEqual(seen.failed, [], "no failed requests");
  await context.close();
});

test("a new visitor signs in from the news front page on the first try", async () => {
  const context = await browser.newContext();
  assert.deepEqual(await context.cookies(), []);
  const page = await context.newPage();
  const seen = h.watch(page, { ignore: ["/favicon.ico"] });

  await page.goto(`${api.base}/index.html`);
  await page.click(".login_btn");
  await page.fill(".login_form #mobile", h.TEST_MOBILE);
  await page.fill(".login_form #password", "news-pass-1");
  await Promise.all([page.waitForEvent("load"), page.click(".login_form .input_sub")]);
  await h.waitForText(page, ".user_login .user_name", h.TEST_MOBILE);

  assert.equal(count(seen, "POST /passport/login"), 1, "signed in on the first try");
  assert.deepEqual(seen.errors, [], "no script errors");
  assert.deepEqual(seen.failed, [], "no failed requests");
  await context.close();
});
