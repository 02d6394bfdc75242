-- wrk script: POSTs a typical beacon.
wrk.method = "POST"
wrk.body = '{"domain":"example.com","page":"/blog/post-1","referrer":"https://news.example.org/item?id=1","utcoffset":-60,"platform":"Linux x86_64","load_ms":532,"session_pages":2}'
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
