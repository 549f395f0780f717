-- wrk script of scripts/load.sh: POST /orders at the gateway with a valid user token.
-- The tokens come from the file named by TOKENPASS_LOAD_TOKENS (one per line), which
-- load.sh keeps fresh (new logins every few seconds, so tokens signed after a key
-- rotation come in too); each thread re-reads it once a second and each connection
-- takes the next token in turn. Non-2xx answers are counted by status and by second
-- (the run's own clock), so that load.sh can check when they happened.
-- With TOKENPASS_LOAD_PATH/TOKENPASS_LOAD_BODY another route can be driven (the flood).
local path = os.getenv("TOKENPASS_LOAD_TOKENS")
local route = os.getenv("TOKENPASS_LOAD_PATH") or "/orders"
local body = os.getenv("TOKENPASS_LOAD_BODY") or '{"item":42}'
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local tokens = {}
local loaded_at = -1
local n = 0
ok = 0
bad = 0
statuses = ""   -- "status:count,..." (filled in done's thread:get)
seconds = ""    -- "second:count,..." of non-2xx answers
local by_status = {}
local by_second = {}

local function load_tokens()
  local f = io.open(path, "r")
  if not f then return end
  local fresh = {}
  for line in f:lines() do
    if #line > 0 then table.insert(fresh, line) end
  end
  f:close()
  if #fresh > 0 then tokens = fresh end
end

function init(args)
  load_tokens()
end

function request()
  local now = os.time()
  if now ~= loaded_at then
    load_tokens()
    loaded_at = now
  end
  n = n + 1
  local token = tokens[((n + id) % #tokens) + 1]
  return wrk.format("POST", route, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end

local function encode(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, k .. ":" .. v) end
  return table.concat(parts, ",")
end

function response(status, headers, response_body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    return
  end
  bad = bad + 1
  by_status[status] = (by_status[status] or 0) + 1
  local s = os.time()
  by_second[s] = (by_second[s] or 0) + 1
  statuses = encode(by_status)
  seconds = encode(by_second)
end

function done(summary, latency, requests)
  local okc, badc = 0, 0
  local all_status, all_seconds = {}, {}
  for _, t in ipairs(threads) do
    okc = okc + t:get("ok")
    badc = badc + t:get("bad")
    table.insert(all_status, t:get("statuses"))
    table.insert(all_seconds, t:get("seconds"))
  end
  local e = summary.errors
  io.write(string.format(
    "wrk: requests=%d seconds=%.1f rps=%.1f p50_ms=%.2f p99_ms=%.2f ok=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, okc, badc,
    e.connect + e.read + e.write + e.timeout))
  io.write("wrk: statuses=" .. table.concat(all_status, ",") .. "\n")
  io.write("wrk: non2xx_seconds=" .. table.concat(all_seconds, ",") .. "\n")
end
