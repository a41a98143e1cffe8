-- wrk script for scripts/loadtest.sh: 99% valid and 1% invalid Bearer tokens against
-- `auth0-api serve`, every response checked.
--
-- Tokens come from the Lua file named by LOADTEST_TOKENS (`return { valid = {...}, invalid = {...} }`).
-- Invalid tokens carry `"sub": "loadtest-invalid"` in a payload that no longer matches its
-- signature, so a 200 for one of them is visible in the body. LOADTEST_EXPECTED_401 is the
-- `WWW-Authenticate` value the server answered to an invalid token before the run: every 401
-- must carry exactly that challenge (so a valid token refused for another reason is not
-- mistaken for an expected refusal).
--
-- Per-request outcomes (every thread):
--   ok_200       200 and not an invalid token's claims
--   ok_401       401 with the expected challenge
--   bad_accept   200 for an invalid token                  (must be 0)
--   unexpected   any other status, or a 401 with another challenge (must be 0)

local tokens = dofile(os.getenv("LOADTEST_TOKENS"))
local expected_401 = os.getenv("LOADTEST_EXPECTED_401") or ""
local valid, invalid = tokens.valid, tokens.invalid
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  sent_valid, sent_invalid = 0, 0
  ok_200, ok_401, bad_accept, unexpected = 0, 0, 0, 0
  unexpected_example = ""
end

function request()
  n = n + 1
  local token
  if n % 100 == 0 then
    sent_invalid = sent_invalid + 1
    token = invalid[(n / 100) % #invalid + 1]
  else
    sent_valid = sent_valid + 1
    token = valid[n % #valid + 1]
  end
  return wrk.format("GET", "/whoami", { ["Authorization"] = "Bearer " .. token })
end

local function header(headers, name)
  for k, v in pairs(headers) do
    if string.lower(k) == name then
      return v
    end
  end
  return nil
end

function response(status, headers, body)
  if status == 200 then
    if string.find(body, "loadtest-invalid", 1, true) then
      bad_accept = bad_accept + 1
    else
      ok_200 = ok_200 + 1
    end
  elseif status == 401 and header(headers, "www-authenticate") == expected_401 then
    ok_401 = ok_401 + 1
  else
    unexpected = unexpected + 1
    if unexpected_example == "" then
      unexpected_example = status .. " " .. tostring(header(headers, "www-authenticate"))
    end
  end
end

function done(summary, latency, requests)
  local t = { sent_valid = 0, sent_invalid = 0, ok_200 = 0, ok_401 = 0, bad_accept = 0, unexpected = 0 }
  local example = ""
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do
      t[k] = t[k] + thread:get(k)
    end
    if example == "" then
      example = thread:get("unexpected_example")
    end
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("LOADTEST requests=%d seconds=%.2f rps=%.0f\n", summary.requests, secs, summary.requests / secs))
  io.write(string.format("LOADTEST latency_us p50=%d p90=%d p99=%d p99.9=%d max=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
  io.write(string.format("LOADTEST sent valid=%d invalid=%d\n", t.sent_valid, t.sent_invalid))
  io.write(string.format("LOADTEST answered ok_200=%d ok_401=%d bad_accept=%d unexpected=%d\n",
    t.ok_200, t.ok_401, t.bad_accept, t.unexpected))
  io.write(string.format("LOADTEST socket_errors connect=%d read=%d write=%d timeout=%d\n",
    e.connect, e.read, e.write, e.timeout))
  if example ~= "" then
    io.write("LOADTEST first_unexpected " .. example .. "\n")
  end
end
