<?php
$wp_version = '6.4.3';
$wp_db_version = 56657;
