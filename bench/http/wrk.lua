-- SPDX-License-Identifier: MIT
--
-- wrk script for bench/http/run.sh. MODE (environment) picks the request:
--   get   GET of the path given on the command line (the default)
--   put   PUT of a 1 KiB body to /set/bench<random> (spread over 100,000 keys)
--   put_existing   PUT of a 1 KiB body to /set/key<random 7 digits>: over the
--         100,000 keys fill_store preloads (key0000000..key0099999)
-- At the end it prints one machine-readable line:
--   RESULT <requests> <seconds> <p50 us> <p99 us> <errors>

local mode = os.getenv("MODE") or "get"
local body = string.rep("x", 1024)

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed or 1)
end

function request()
  if mode == "put" then
    return wrk.format("PUT", "/set/bench" .. math.random(1, 100000), nil, body)
  end
  if mode == "put_existing" then
    return wrk.format("PUT", string.format("/set/key%07d", math.random(0, 99999)), nil, body)
  end
  return wrk.format("GET")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %d %d %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
