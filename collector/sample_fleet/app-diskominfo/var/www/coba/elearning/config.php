<?php  // Moodle configuration file
unset($CFG);
global $CFG;
$CFG = new stdClass();
$CFG->dbtype    = 'mariadb';
$CFG->dblibrary = 'native';
$CFG->dbhost    = 'localhost';
$CFG->dbname    = 'moodle_pelatihan';
$CFG->dbuser    = 'moodle';
$CFG->dbpass    = 'contoh-rahasia-moodle';
$CFG->wwwroot   = 'http://10.20.0.15:8081/elearning';
$CFG->dataroot  = '/var/moodledata';
require_once(__DIR__ . '/lib/setup.php');
