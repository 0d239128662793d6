<?php
define( 'DB_NAME', 'wp_dinkes' );
define( 'DB_USER', 'wp_dinkes' );
define( 'DB_PASSWORD', 'Sup3r-Rahasia-2024!' );
define( 'DB_HOST', 'localhost' );
