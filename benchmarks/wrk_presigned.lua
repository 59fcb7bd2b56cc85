-- wrk script for benchmarks/dataplane_http.py: replays requests signed beforehand, one per line of
-- "<prefix>.<thread>.tsv" (path, body, then "Header: value" fields, tab-separated), each thread its own file
-- so no nonce is sent twice. Prints one line "WRKJSON {...}" with throughput, errors and percentiles.
local counter = 1
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  reqs = {}
  wrapped = 0
  local file = args[1] .. "." .. id .. ".tsv"
  for line in io.lines(file) do
    local fields = {}
    for f in string.gmatch(line, "([^\t]+)") do
      fields[#fields + 1] = f
    end
    local headers = {}
    for i = 3, #fields do
      local name, value = string.match(fields[i], "^([^:]+): (.*)$")
      headers[name] = value
    end
    reqs[#reqs + 1] = wrk.format("POST", fields[1], headers, fields[2])
  end
  n = 0
end

function request()
  n = n + 1
  if n > #reqs then
    n = 1
    wrapped = wrapped + 1
  end
  return reqs[n]
end

function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do
    w = w + (t:get("wrapped") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, ' ..
    '"status_errors": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, w))
end
