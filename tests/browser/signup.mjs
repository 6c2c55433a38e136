// One sign-up in Debian's headless Chromium, as a person would do it: the
// demo relying party → handle page → "Create an account" → server chooser →
// rules and form → "check your e-mail" → the confirmation link (read from the
// fake's outbox) → back at the relying party, logged in. Prints a JSON report.
// Usage: node signup.mjs '<json: {start, server, username, email, password, outbox, resolverRules, javascript, screenshot}>'
import { chromium } from "playwright-core";

const plan = JSON.parse(process.argv[2]);
const report = { steps: [] };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--host-resolver-rules=${plan.resolverRules}`,
  ],
});
const step = async (page) => {
  await page.waitForLoadState();
  report.steps.push({ url: page.url(), title: await page.title() });
};
try {
  const page = await browser.newPage({ javaScriptEnabled: plan.javascript !== false });
  await page.goto(plan.start);
  await step(page);
  await page.getByRole("button", { name: "Create an account" }).click();
  await step(page);
  await page.getByLabel("Server").fill(plan.server);
  await page.getByRole("button", { name: "Continue" }).click();
  await step(page);
  // The form, found through its labels as assistive technology finds it.
  await page.getByLabel("Username").fill(plan.username);
  await page.getByLabel("E-mail address").fill(plan.email);
  await page.getByLabel("Password", { exact: true }).fill(plan.password);
  // First without agreeing: the error appears beside the checkbox, the
  // typed values stay (the password does not).
  await page.getByRole("button", { name: "Create account" }).click();
  await step(page);
  report.refused = {
    agreementError: await page.locator("#agreement-error").innerText(),
    username: await page.getByLabel("Username").inputValue(),
    password: await page.getByLabel("Password", { exact: true }).inputValue(),
  };
  if (plan.screenshot) await page.screenshot({ path: plan.screenshot.replace(".png", "-form.png"), fullPage: true });
  await page.getByLabel("Password", { exact: true }).fill(plan.password);
  await page.getByLabel(/I agree to the rules/).check();
  await page.getByRole("button", { name: "Create account" }).click();
  await step(page);
  report.pending = await page.locator("main").innerText();
  // "Open the e-mail": the fake's outbox has the link.
  const link = await (await fetch(plan.outbox)).text();
  report.link = link;
  await page.goto(link);
  await page.waitForLoadState();
  report.final = { url: page.url(), title: await page.title(), text: await page.locator("body").innerText() };
  if (plan.screenshot) await page.screenshot({ path: plan.screenshot, fullPage: true });
} catch (e) {
  report.error = String(e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
