-- wrk script: POSTs eight different valid beacons in turn, with a browser's headers. The same
-- script drives both locations of scripts/bench.sh, so both see the same requests.
local beacons = {
    '{"domain":"example.com","page":"/","referrer":"","utcoffset":0,"platform":"Linux x86_64","load_ms":211,"session_pages":1}',
    '{"domain":"example.com","page":"/blog/post-1","referrer":"https://news.example.org/item?id=1","utcoffset":-60,"platform":"Linux x86_64","load_ms":532,"session_pages":2}',
    '{"domain":"example.com","page":"/blog/post-2","referrer":"https://www.google.com/","utcoffset":-120,"platform":"Win32","load_ms":843,"session_pages":1}',
    '{"domain":"example.com","page":"/about","referrer":"https://example.com/","utcoffset":300,"platform":"MacIntel","load_ms":120,"session_pages":3}',
    '{"domain":"example.com","page":"/products/widget?colour=red","referrer":"https://duckduckgo.com/","utcoffset":60,"platform":"iPhone","load_ms":1502,"session_pages":1}',
    '{"domain":"example.com","page":"/contact","referrer":"","utcoffset":-330,"platform":"Linux armv8l","load_ms":95,"session_pages":4}',
    '{"domain":"example.com","page":"/blog/","referrer":"https://t.co/abc","utcoffset":0,"platform":"Win32","load_ms":677,"session_pages":2}',
    '{"domain":"example.com","page":"/docs/start","referrer":"https://github.com/","utcoffset":-480,"platform":"MacIntel","load_ms":410,"session_pages":5}',
}
local headers = {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    ["Accept"] = "*/*",
    ["Accept-Language"] = "en-GB,en;q=0.9",
    ["Accept-Encoding"] = "gzip, deflate, br",
}
local requests = {}
local next_request = 0

init = function(args)
    for i, body in ipairs(beacons) do
        requests[i] = wrk.format("POST", nil, headers, body)
    end
end

request = function()
    next_request = next_request % #requests + 1
    return requests[next_request]
end
