<?php include "./adminer-4.8.1.php";
