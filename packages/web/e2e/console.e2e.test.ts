import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { CONTENT_SECURITY_POLICY } from "@platform/contracts/Console"
import pg from "pg"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

/**
 * The console as a person uses it, in Debian's Chromium (headless, through playwright-core, no
 * browser download), against the platform `pnpm start` runs: sign up, log out, log in, greet,
 * keep the refresh token out of the page's reach, survive an access token the edge refuses, trip the gateway's breaker with `unavailable` and
 * watch the panel say open. Screenshots go to `test-results/` (CI keeps them).
 */
const base = process.env.CONSOLE_URL ?? "http://localhost:30081"
const results = fileURLToPath(new URL("../../../test-results/", import.meta.url))

let browser: Browser
let page: Page

const screenshot = (name: string) => page.screenshot({ path: join(results, `console-${name}.png`), fullPage: true })

beforeAll(async () => {
  mkdirSync(results, { recursive: true })
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    // As root Chromium needs --no-sandbox; the rest keeps it off the (closed) network.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  })
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
})

afterAll(async () => {
  await browser?.close()
})

describe("the web console", () => {
  const email = `console-${Date.now()}@example.com`
  const password = "correct horse battery"

  it("signs up, logs out and logs in again", async () => {
    // Served with a strict Content-Security-Policy, under which everything below must work.
    const violations: Array<string> = []
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text())
    })
    const served = await page.goto(base)
    expect(served?.headers()["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY)
    await page.getByLabel("Email").fill(email)
    await page.getByLabel("Password").fill(password)
    await page.getByRole("button", { name: "Sign up" }).click()
    await page.getByText(`Signed in as ${email}`).waitFor()
    await page.getByRole("button", { name: "Log out" }).click()
    await page.getByRole("heading", { name: "Sign in" }).waitFor()

    // A wrong password is a sentence, not a blank page.
    await page.getByLabel("Email").fill(email)
    await page.getByLabel("Password").fill("not the password")
    await page.getByRole("button", { name: "Log in" }).click()
    expect(await page.getByRole("alert").textContent()).toBe("invalid email or password")

    await page.getByLabel("Password").fill(password)
    await page.getByRole("button", { name: "Log in" }).click()
    await page.getByText(`Signed in as ${email}`).waitFor()
    expect(violations).toEqual([])
  })

  it("greets: the message, and what caller found at the external URL", async () => {
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Ada")
    await page.getByRole("button", { name: "Greet" }).click()
    const greeting = page.getByRole("status", { name: "greeting" })
    await greeting.waitFor()
    expect(await greeting.textContent()).toMatch(
      /^Hello Ada from greeter-service!external status 200, \d+ bytes( trace)?$/,
    )
    await screenshot("greet")
  })

  it("the refresh token never reaches the page; a reload resumes the session from its cookie", async () => {
    const cookies = await page.context().cookies()
    const refresh = cookies.find((cookie) => cookie.name === "platform_refresh")
    expect(refresh?.httpOnly).toBe(true)
    expect(refresh?.sameSite).toBe("Strict")
    expect(refresh?.path).toBe("/auth")
    const visible = await page.evaluate(() => ({
      cookie: document.cookie,
      stored: JSON.stringify({ ...localStorage }),
    }))
    expect(visible.cookie).not.toContain("platform_refresh")
    expect(visible.stored).not.toContain(refresh?.value ?? "no cookie")
    expect(visible.stored).not.toMatch(/ey[\w-]+\.ey/)
    await page.reload()
    await page.getByText(`Signed in as ${email}`).waitFor()
  })

  it("an access token the edge refuses is refreshed once, transparently", async () => {
    // As if it had expired: the edge's forward-auth answers the next Greet with its 401.
    let refused = 0
    let refreshes = 0
    page.on("request", (request) => {
      if (request.url().endsWith("/auth/refresh")) refreshes += 1
    })
    await page.route("**/greeter.v1.GreeterService/Greet", async (route) => {
      if (refused > 0) return route.continue()
      refused += 1
      await route.fulfill({
        status: 401,
        headers: { "content-type": "application/json", "www-authenticate": 'Bearer error="invalid_token"' },
        body: JSON.stringify({ code: "unauthenticated", message: "invalid token" }),
      })
    })
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Grace")
    await page.getByRole("button", { name: "Greet" }).click()
    await page.getByText("Hello Grace from greeter-service!").waitFor()
    expect([refused, refreshes]).toEqual([1, 1])
    await page.unroute("**/greeter.v1.GreeterService/Greet")
  })

  it("one click of unauthorized is one InvokeCustom: lang's 401 is not the edge's, nothing is resent", async () => {
    // The platform's own database (pnpm start's embedded server), as an operator would look.
    const database = new pg.Client({
      connectionString: `${process.env.E2E_DATABASE_URL_BASE ?? "postgresql://postgres:postgres@127.0.0.1:5433"}/gateway_db`,
    })
    await database.connect()
    try {
      const rows = async () =>
        Number(
          (await database.query("SELECT count(*) AS n FROM invocations WHERE name = 'unauthorized'")).rows[0]?.n ?? -1,
        )
      const before = await rows()
      await page.getByRole("combobox", { name: "Name" }).selectOption("unauthorized")
      const outcomes = page.getByRole("list", { name: "outcomes" }).getByRole("listitem")
      const shown = await outcomes.count()
      await page.getByRole("button", { name: "Invoke" }).click()
      await expect.poll(() => outcomes.count()).toBe(shown + 1)
      expect(await outcomes.first().textContent()).toMatch(/^unauthorized → unauthenticated: /)
      // Time for a second send to land, if the console made one.
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      expect(await rows()).toBe(before + 1)
    } finally {
      await database.end()
    }
  })

  it("trips the breaker with unavailable, and the panel says open", async () => {
    const state = page.getByTestId("breaker-state")
    await state.waitFor()
    await page.getByRole("combobox", { name: "Name" }).selectOption("unavailable")
    const outcomes = page.getByRole("list", { name: "outcomes" }).getByRole("listitem")
    const earlier = await outcomes.count()
    for (let call = 1; call <= 5; call++) {
      await page.getByRole("button", { name: "Invoke" }).click()
      await expect.poll(() => outcomes.count()).toBe(Math.min(8, earlier + call))
      expect(await outcomes.first().textContent()).toMatch(/^unavailable → unavailable: /)
    }
    await expect.poll(() => state.textContent(), { timeout: 5_000 }).toBe("open")
    expect(await outcomes.first().textContent()).toBe("unavailable → unavailable: circuit breaker is open trace")
    // The countdown to half-open goes down as the panel polls.
    const countdown = page.getByTestId("breaker-countdown")
    const seconds = async () => Number((await countdown.textContent())?.match(/half-open in (\d+) s/)?.[1])
    const first = await seconds()
    expect(first).toBeGreaterThan(0)
    await expect.poll(seconds, { timeout: 5_000 }).toBeLessThan(first)
    // The budget's tokens as a chart: a point per poll.
    expect(Number(await page.getByTestId("budget-chart").getAttribute("data-points"))).toBeGreaterThan(1)
    await screenshot("breaker-open")
  })

  it("a Greet's trace opens from its outcome, with spans of the edge, greeter and caller", async () => {
    await page.getByRole("button", { name: "Try it" }).click()
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Traced")
    await page.getByRole("button", { name: "Greet" }).click()
    const greeting = page.getByRole("status", { name: "greeting" })
    await greeting.getByText("Hello Traced").waitFor()
    const sent = Date.now()
    await greeting.getByRole("button", { name: /^trace / }).click()
    const waterfall = page.getByTestId("waterfall")
    const services = () =>
      waterfall
        .getByRole("list", { name: "spans" })
        .getByRole("listitem")
        .evaluateAll((items) => [...new Set(items.map((item) => item.getAttribute("data-service")))])
    await expect
      .poll(services, { timeout: 5_000 })
      .toEqual(expect.arrayContaining(["edge", "greeter-service", "caller-service"]))
    expect(Date.now() - sent).toBeLessThan(5_000)
    // The list has it too, by the same id.
    const traceId = await waterfall.getAttribute("data-trace-id")
    await expect
      .poll(() => page.getByRole("list", { name: "recent requests" }).locator(`[data-trace-id="${traceId}"]`).count(), {
        timeout: 5_000,
      })
      .toBe(1)
    await screenshot("trace")
  })

  it("the services map: six services up, each with its figures, and their databases", async () => {
    await page.getByRole("button", { name: "Services" }).click()
    const cards = page.getByRole("list", { name: "services" }).getByRole("listitem")
    await expect.poll(() => cards.count()).toBe(6)
    await expect
      .poll(() => cards.evaluateAll((items) => items.map((item) => item.getAttribute("data-health"))))
      .toEqual(["up", "up", "up", "up", "up", "up"])
    expect(await page.getByTestId("services-summary").textContent()).toMatch(/^All 6 services up/)
    for (const service of ["lang", "auth", "caller", "greeter", "gateway"]) {
      expect(await page.getByTestId(`database-${service}`).textContent()).toContain(`${service}_db`)
    }
    await screenshot("services")
    await page.getByRole("button", { name: "Try it" }).click()
  })

  it("the API explorer calls lang's /invoke (REST, on loopback) and greeter's Greet (Connect, through the edge)", async () => {
    await page.getByRole("button", { name: "API" }).click()
    const rest = page.getByRole("list", { name: "REST endpoints" })
    await rest.getByRole("button", { name: /POST lang \/invoke/ }).click()
    const invoke = page.getByRole("form", { name: "POST /invoke" })
    expect(await invoke.getByLabel("Body (JSON)").inputValue()).toBe('{\n  "name": ""\n}')
    await invoke.getByLabel("Body (JSON)").fill('{"name":"Ada"}')
    await invoke.getByRole("button", { name: "Send" }).click()
    await expect.poll(() => invoke.getByTestId("answer-status").textContent()).toMatch(/^200 in /)
    expect(JSON.parse((await invoke.getByTestId("answer-body").textContent()) ?? "")).toEqual({
      message: "Hello Ada from custom-lang-service!",
    })

    await page
      .getByRole("list", { name: "Connect RPCs" })
      .getByRole("button", { name: /GreeterService\/Greet/ })
      .click()
    const greet = page.getByRole("form", { name: "greeter.v1.GreeterService/Greet" })
    await greet.getByLabel("Request (JSON)").fill('{"name":"Explorer"}')
    await greet.getByRole("button", { name: "Call" }).click()
    await expect.poll(() => greet.getByTestId("answer-status").textContent()).toMatch(/^OK in /)
    expect(await greet.getByTestId("answer-body").textContent()).toContain(
      '"message": "Hello Explorer from greeter-service!"',
    )
    await screenshot("api")
    await page.getByRole("button", { name: "Try it" }).click()
  })

  it("fits a 390 px phone and a wide screen, in light and in dark", async () => {
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)
    await page.setViewportSize({ width: 390, height: 844 })
    expect(await overflow()).toBeLessThanOrEqual(0)
    await screenshot("390px")
    await page.emulateMedia({ colorScheme: "light" })
    const light = await background()
    await page.emulateMedia({ colorScheme: "dark" })
    expect(await background()).not.toBe(light)
    await screenshot("390px-dark")
    await page.setViewportSize({ width: 1280, height: 800 })
    expect(await overflow()).toBeLessThanOrEqual(0)
    await screenshot("1280px-dark")
    await page.emulateMedia({ colorScheme: "light" })
    await screenshot("1280px")
  })
})
