-- wrk script for bench/signon_bench.py: sign-on POSTs, each with an email of its own.
--   wrk -s bench/signon.lua URL -- TOKEN COOKIE RUN PATH
-- TOKEN and COOKIE are the CSRF token and the session cookie of one GET of the form (the bench
-- fetches them); RUN makes this run's addresses unique; PATH is the form's path. Each wrk thread
-- counts its answers by status class; done() prints them with the latency percentiles as one
-- JSON line for the bench to read.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local token, cookie, run, path
local counter = 0
redirects = 0
other = 0

local function encode(text)
  return (string.gsub(text, "[^%w%-_%.~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

function init(args)
  token, cookie, run, path = args[1], args[2], args[3], args[4]
end

function request()
  counter = counter + 1
  local n = run .. "-" .. id .. "-" .. counter
  local body = "csrf_token=" .. encode(token)
    .. "&organisation_name=" .. encode("Bench Organisation " .. n)
    .. "&organisation_type=company&country=DE&city=Berlin"
    .. "&website=" .. encode("https://www.bench-" .. n .. ".org")
    .. "&contact_name=" .. encode("Ann Example")
    .. "&contact_role=Director"
    .. "&email=" .. encode("signer@bench-" .. n .. ".org")
    .. "&comment=&consent=y&fax_number="
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookie,
  }, body)
end

function response(status, headers, body)
  if status >= 200 and status < 400 then
    redirects = redirects + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local ok, failed = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("redirects")
    failed = failed + thread:get("other")
  end
  io.write(string.format(
    'SIGNON-RESULT {"answered_2xx_3xx": %d, "answered_other": %d, "requests": %d, '
      .. '"duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    ok, failed, summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
