<?php
// MOODLE VERSION INFORMATION
defined('MOODLE_INTERNAL') || die();

$version  = 2018051718.00;              // 20180517      = branching date YYYYMMDD - do not modify!
$release  = '3.5.18 (Build: 20210517)'; // Human-friendly version name
$branch   = '35';                       // This version's branch.
$maturity = MATURITY_STABLE;            // This version's maturity level.
