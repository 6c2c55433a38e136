// One real login in Debian's headless Chromium, driven through the pages as
// a person would: start URL → handle page → (fake) Mastodon sign-in and
// authorize page → back at the relying party. Prints a JSON report on stdout.
// Usage: node login.mjs '<json: {start, handle, username, password, resolverRules, screenshot}>'
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
try {
  const page = await browser.newPage({ javaScriptEnabled: plan.javascript !== false });
  await page.goto(plan.start);
  report.steps.push({ url: page.url(), title: await page.title() });
  // The handle page: its label names the field, as a screen reader finds it.
  await page.getByLabel("Your handle or server").fill(plan.handle);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForLoadState();
  report.steps.push({ url: page.url(), title: await page.title() });
  // The Mastodon side: sign in and authorize.
  await page.locator('input[name="username"]').fill(plan.username);
  await page.locator('input[name="password"]').fill(plan.password);
  await page.getByRole("button", { name: "Authorize" }).click();
  await page.waitForLoadState();
  report.final = { url: page.url(), title: await page.title(), text: await page.locator("body").innerText() };
  if (plan.screenshot) await page.screenshot({ path: plan.screenshot, fullPage: true });
} catch (e) {
  report.error = String(e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
