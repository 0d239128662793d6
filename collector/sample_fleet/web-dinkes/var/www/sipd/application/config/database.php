<?php
$db['default'] = array(
	'hostname' => 'db.dinkes.lan',
	'username' => 'sipd',
	'password' => 'sipd#2019',
	'database' => 'sipd',
	'dbdriver' => 'mysqli',
);
