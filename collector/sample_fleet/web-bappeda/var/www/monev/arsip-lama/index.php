<?php
// Joomla! 1.5 front controller
define('_JEXEC', 1);
