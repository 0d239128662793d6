<?php
// Roundcube Webmail initialization
define('RCMAIL_VERSION', '1.6.5');
define('RCMAIL_START', microtime(true));
