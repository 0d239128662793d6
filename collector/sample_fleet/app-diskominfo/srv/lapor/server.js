const http = require('http');
http.createServer((req, res) => res.end('lapor')).listen(process.env.PORT || 3001, '127.0.0.1');
