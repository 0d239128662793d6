<?php
return [
    'class' => 'yii\db\Connection',
    'dsn' => 'mysql:host=localhost;dbname=eplanning',
    'username' => 'eplanning',
    'password' => 'Bappeda!2020',
];
