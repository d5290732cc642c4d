-- One request shape for benchmarks/load.py:  wrk -s wrk.lua URL -- METHOD PATH IDS BODY TOKEN [SESSION]
-- PATH may hold "{id}": each request then takes the next id of the file IDS (one per line),
-- cycling; "-" for no ids. BODY "" for none. TOKEN "" sends no Authorization header; "@FILE" sends
-- the next token of FILE (one per line) with each request. SESSION, if given and not "", is sent as
-- X-Mock-Session.
-- `done` prints one line "WRK_RESULT {json}" that load.py reads.

local ids = {}
local next_id = 0
local tokens = {}
local next_token = 0
local method, path, body

function init(args)
  method, path = args[1], args[2]
  if args[3] ~= "-" then
    for line in io.lines(args[3]) do
      if line ~= "" then ids[#ids + 1] = line end
    end
  end
  if args[4] ~= "" then
    body = args[4]
    wrk.headers["Content-Type"] = "application/json"
  end
  if string.sub(args[5], 1, 1) == "@" then
    for line in io.lines(string.sub(args[5], 2)) do
      if line ~= "" then tokens[#tokens + 1] = line end
    end
  elseif args[5] ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. args[5]
  end
  if args[6] ~= nil and args[6] ~= "" then
    wrk.headers["X-Mock-Session"] = args[6]
  end
end

function request()
  local target = path
  if #ids > 0 then
    next_id = next_id % #ids + 1
    target = string.gsub(path, "{id}", ids[next_id])
  end
  if #tokens > 0 then
    next_token = next_token % #tokens + 1
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["Authorization"] = "Bearer " .. tokens[next_token]
    return wrk.format(method, target, headers, body)
  end
  return wrk.format(method, target, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "socket_errors": %d, ' ..
    '"non_2xx": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
