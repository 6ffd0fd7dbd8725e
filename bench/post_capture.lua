-- wrk script: POSTs a capture-shaped JSON body to the URL's path (/api/v1/payments/capture on
-- serve, /echo on the echo baseline), with a unique transaction_id per request: captures are
-- idempotent by transaction_id, so a repeated one would be replayed, not sent to Kafka again.
--
--   wrk -t2 -c64 -d10s --latency -s bench/post_capture.lua http://127.0.0.1:8080/api/v1/payments/capture -- RUNID
--
-- RUNID (any word) keeps the ids of separate wrk runs against the same serve apart.
-- At the end it prints one line, `WRK_JSON {...}`, with the counts and the latency percentiles
-- in microseconds. wrk is closed-loop: its tail percentiles under load hide coordinated omission.

local threads = {}
local counter = 0
local run_id = "run"
thread_id = 0

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  if args[1] ~= nil then run_id = args[1] end
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"transaction_id":"tx_%s_%d_%d","amount":100.50,"currency":"BRL"}', run_id, thread_id, counter)
  return wrk.format("POST", nil, nil, body)
end

local function percentiles(latency)
  local points = {1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99}
  local parts = {}
  for _, p in ipairs(points) do
    table.insert(parts, string.format('"%s":%d', tostring(p), latency:percentile(p)))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99_9":%d},"percentiles_us":%s}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    percentiles(latency)))
end
