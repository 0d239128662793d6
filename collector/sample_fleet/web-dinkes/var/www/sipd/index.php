<?php
require_once BASEPATH.'core/CodeIgniter.php';
